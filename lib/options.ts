// Public option schemas (zod): validated once at the API boundary, one error shape (VIT_E_ARGUMENT).
import { z } from 'zod';
import { VitError } from './errors.ts';
import { closestOption } from './suggest.ts';

const int = z.number().int();

export const createOptionsSchema = z
  .object({
    checkpoint: z.string().min(1).optional(),
    pretrained: z.boolean().optional(),
    numClasses: int.min(0).optional(),
    imgSize: z.union([int.positive(), z.tuple([int.positive(), int.positive()])]).optional(),
    inChans: int.positive().optional(),
    globalPool: z.enum(['', 'token', 'avg', 'max', 'avgmax']).optional(),
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

/** Option-object schemas for the image and serving APIs: unknown keys are refused as createModel's are; values
 *  typed `unknown` here are checked by the code that uses them (its messages name the rule). */
const opt = z.unknown().optional();
const dataConfigSchema = z.object({ inputSize: opt, interpolation: opt, mean: opt, std: opt, cropPct: opt, cropMode: opt }).strict();
const preprocessShape = {
  dataConfig: dataConfigSchema.optional(),
  concurrency: int.positive().optional(),
  limitInputPixels: z.number().positive().optional(),
  autoOrient: z.boolean().optional(),
};
export const preprocessOptionsSchema = z.object(preprocessShape).strict();
export const imageTaskOptionsSchema = z.object({ ...preprocessShape, batchSize: opt }).strict();
export const classifyOptionsSchema = z.object({ ...preprocessShape, batchSize: opt, topK: opt, errors: z.enum(['throw', 'return']).optional() }).strict();
export const featuresOptionsSchema = z.object({ ...preprocessShape, batchSize: opt, outIndices: opt, norm: z.boolean().optional(), format: z.enum(['NCHW', 'NLC']).optional() }).strict();
export const forwardHeadOptionsSchema = z.object({ preLogits: z.boolean().default(false) }).strict();
export const runRequestSchema = z.object({
  outputs: z.array(z.enum(['logits', 'features', 'pre_logits', 'intermediates'])).min(1),
  intermediates: opt,
}).strict();
export const batcherOptionsSchema = z.object({
  maxBatchSize: opt, maxDelayMs: opt, maxQueue: opt, timeoutMs: opt, maxInflightBatches: opt,
  preprocess: preprocessOptionsSchema.optional(), window: int.positive().optional(),
}).strict();
const requestShape = { signal: opt, timeoutMs: opt };
export const requestOptionsSchema = z.object(requestShape).strict();
export const batchClassifyOptionsSchema = z.object({ ...requestShape, topK: opt }).strict();
export const batchFeaturesOptionsSchema = z.object({ ...requestShape, outIndices: opt, norm: z.boolean().optional(), format: z.enum(['NCHW', 'NLC']).optional() }).strict();
export const poolOptionsSchema = z.object({ devices: opt, instancesPerDevice: opt, threads: opt, model: opt, batcher: opt }).strict();

function shapeKeys(schema: z.ZodTypeAny): string[] {
  let s: z.ZodTypeAny = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** Validates an options object; every problem in one VIT_E_ARGUMENT ('invalid <what>: ...'), unknown keys with the
 *  closest known name. */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => {
      const at = i.path.join('.');
      if (i.code === 'unrecognized_keys') {
        const known = i.path.length ? [] : shapeKeys(schema);
        return i.keys.map((k) => {
          const near = closestOption(k, known);
          return `unknown option '${at ? `${at}.` : ''}${k}'${near ? ` (did you mean ${near}?)` : ''}`;
        }).join('; ');
      }
      return at ? `${at}: ${i.message}` : i.message;
    }).join('; ');
    throw new VitError('VIT_E_ARGUMENT', `invalid ${what}: ${msg}`);
  }
  return r.data;
}
