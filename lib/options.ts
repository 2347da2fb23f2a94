// Public option schemas (zod): validated once at the API boundary, one error shape (VIT_E_ARGUMENT).
import { z } from 'zod';
import { VitError } from './errors.ts';

const int = z.number().int();

export const createOptionsSchema = z
  .object({
    checkpoint: z.string().min(1).optional(),
    pretrained: z.boolean().optional(),
    numClasses: int.min(0).optional(),
    imgSize: z.union([int.positive(), z.tuple([int.positive(), int.positive()])]).optional(),
    inChans: int.positive().optional(),
    globalPool: z.enum(['', 'token', 'avg', 'max', 'avgmax', 'map', 'prr']).optional(),
    dynamicImgSize: z.boolean().optional(),
    dynamicImgPad: z.boolean().optional(),
    /** timm's act_layer for the MLPs: 'gelu' (exact erf, timm's default) or 'gelu_tanh' (the tanh approximation:
     *  not timm's numbers for GELU models, but one fused cuBLASLt epilogue on CUDA). */
    actLayer: z.enum(['gelu', 'gelu_tanh']).optional(),
    threads: int.positive().max(1024).optional(),
    device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, "device must be 'cpu', 'cuda' or 'cuda:N'").default('cpu'),
    dtype: z.enum(['float32', 'float16', 'bfloat16']).default('float32'),
    tf32: z.boolean().default(false),
    seed: int.optional(),
    featuresOnly: z.boolean().optional(),
    outIndices: z.union([int.positive(), z.array(int)]).optional(),
  })
  .strict()
  .refine((o) => o.outIndices === undefined || o.featuresOnly, { message: 'outIndices needs featuresOnly: true', path: ['outIndices'] });

export type CreateModelOptions = z.input<typeof createOptionsSchema>;
export type ResolvedCreateOptions = z.output<typeof createOptionsSchema>;

export const intermediatesOptionsSchema = z
  .object({
    indices: z.union([int.positive(), z.array(int)]).optional(),
    norm: z.boolean().default(false),
    outputFmt: z.enum(['NCHW', 'NLC']).default('NCHW'),
    intermediatesOnly: z.boolean().default(false),
    stopEarly: z.boolean().default(false),
  })
  .strict();

export type IntermediatesOptions = z.input<typeof intermediatesOptionsSchema>;

export function parseOptions<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
    throw new VitError('VIT_E_ARGUMENT', `invalid ${what}: ${msg}`);
  }
  return r.data;
}
