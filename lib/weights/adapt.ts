// Tensor surgery from timm's checkpoint filters, on float32 data: adapt_input_conv and pos_embed resampling.
import { binding } from '../binding.ts';
import { VitError } from '../errors.ts';
import { GraphBuilder } from '../graph/builder.ts';

/** timm adapt_input_conv (_manipulate.py): weights [O, I, kh, kw] for a model with `inChans` inputs. */
export function adaptInputConv(inChans: number, w: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [O, I, kh, kw] = shape;
  const k = kh * kw;
  if (inChans === I) return { data: w, shape };
  if (inChans === 1) {
    const groups = I > 3 ? I / 3 : 1;
    const per = I > 3 ? 3 : I;
    if (I > 3 && I % 3 !== 0) throw new VitError('VIT_E_CHECKPOINT', `cannot adapt a ${I}-channel stem to 1 channel`);
    const out = new Float32Array(O * groups * k);
    for (let o = 0; o < O; o++)
      for (let gi = 0; gi < groups; gi++)
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let c = 0; c < per; c++) s += w[(o * I + gi * per + c) * k + j];
          out[(o * groups + gi) * k + j] = s;
        }
    return { data: out, shape: [O, groups, kh, kw] };
  }
  if (I !== 3) throw new VitError('VIT_E_CHECKPOINT', `cannot adapt a ${I}-channel patch embedding to ${inChans} channels (timm needs 3)`);
  const out = new Float32Array(O * inChans * k);
  const scale = 3 / inChans;
  for (let o = 0; o < O; o++)
    for (let c = 0; c < inChans; c++)
      for (let j = 0; j < k; j++) out[(o * inChans + c) * k + j] = w[(o * 3 + (c % 3)) * k + j] * scale;
  return { data: out, shape: [O, inChans, kh, kw] };
}

export type ResampleMode = 'bilinear' | 'bicubic_aa' | 'bicubic';
const MODE = { bilinear: 0, bicubic_aa: 1, bicubic: 2 } as const;

/** Resamples pos_embed [1, prefix + oh*ow, D] to a new grid with the native kernel (F.interpolate's weights). */
export function resamplePosEmbed(
  data: Float32Array,
  dim: number,
  prefix: number,
  oldGrid: [number, number],
  newGrid: [number, number],
  mode: ResampleMode,
): Float32Array {
  const store = new binding.WeightStore();
  const tokens = prefix + oldGrid[0] * oldGrid[1];
  store.set('pos_embed', [1, tokens, dim], data);
  const g = new GraphBuilder();
  const p = g.weight('pos_embed', [1, tokens, dim]);
  const y = g.op('pos_resample', 'pos_embed', [p], [1, prefix + newGrid[0] * newGrid[1], dim], {
    attrs: { prefix, old_h: oldGrid[0], old_w: oldGrid[1], h: newGrid[0], w: newGrid[1], mode: MODE[mode] },
  });
  g.output('pos_embed', y);
  const prog = new binding.Program(g.spec(), store, { device: 'cpu' });
  try {
    return prog.runSync([], 1)[0].data;
  } finally {
    prog.dispose();
    store.dispose();
  }
}
