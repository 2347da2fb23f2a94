// timm's 2-D rotary position embeddings as eva.py builds them (layers/pos_embed_sincos.py): the sin | cos tables
// for a token grid. They are derived, never loaded: each table is computed here for the grid a program runs on
// and handed to the native store under an internal key ('@rope/...', never a timm key) when the program is built
// (GraphBuilder.derive). The native `rope` op applies them.
//
// Precision: 'cat' and 'dinov3' tables are computed in float64 from timm's formulas and rounded once to float32
// (timm: float32 static 'cat' tables at init, float64 dynamic ones and 'dinov3' in a float64 model; the difference is
// float32 rounding of the angles, |angle| * 6e-8, ~1e-6 on a 14x14 grid, far inside the 1e-4 parity tolerance).
// 'mixed' angles are float32 exactly as timm's get_mixed_freqs computes them (`freqs.float()`, also in a float64
// model), their sin / cos in float64 then rounded.
import type { GraphBuilder } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';

export type Grid = readonly [number, number];

/** What the blocks need to rotate q and k: the table's store key and shape, the pair layout, prefix to skip. */
export interface RopeTable {
  key: string;
  shape: number[];
  /** rotate_half pair layout (DINOv3) instead of interleaved pairs. */
  half: boolean;
  /** Prefix tokens (cls + registers) left unrotated. */
  start: number;
}

export interface RopeArgs {
  headDim: number;
  numHeads: number;
  depth: number;
  temperature: number;
  gridOffset: number;
  gridIndexing: 'ij' | 'xy';
  refFeatShape: Grid | null;
}

/** [N, hd] angles -> [N, 2 hd] = [sin | cos] as float32. */
function sinCos(angles: Float64Array, n: number, hd: number, out = new Float32Array(n * 2 * hd), offset = 0): Float32Array {
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < hd; j++) {
      const a = angles[t * hd + j];
      out[offset + t * 2 * hd + j] = Math.sin(a);
      out[offset + t * 2 * hd + hd + j] = Math.cos(a);
    }
  }
  return out;
}

/**
 * RotaryEmbeddingCat (in_pixels=False): bands T^(-k / (hd/4)), k < hd/4; per axis t = arange(n) + offset, scaled
 * by ref / n; 'xy' takes the column axis first; per token [axis0 * bands, axis1 * bands], each repeated twice in
 * place. [N, 2 hd].
 */
export function catTable(grid: Grid, a: RopeArgs): Float32Array {
  const hd = a.headDim;
  const nb = hd / 4;
  const bands = Float64Array.from({ length: nb }, (_, k) => 1 / a.temperature ** (k / nb));
  const xy = a.gridIndexing === 'xy';
  const feat = xy ? [grid[1], grid[0]] : [grid[0], grid[1]];
  const ref = a.refFeatShape ? (xy ? [a.refFeatShape[1], a.refFeatShape[0]] : [a.refFeatShape[0], a.refFeatShape[1]]) : null;
  const axis = (i: number, v: number) => (ref ? ((v + a.gridOffset) / feat[i]) * ref[i] : v + a.gridOffset);
  const [gh, gw] = grid;
  const n = gh * gw;
  const angles = new Float64Array(n * hd);
  for (let r = 0; r < gh; r++) {
    for (let c = 0; c < gw; c++) {
      const tok = r * gw + c;
      // 'ij': axis 0 = rows; 'xy': axis 0 = columns
      const p0 = axis(0, xy ? c : r);
      const p1 = axis(1, xy ? r : c);
      for (let k = 0; k < nb; k++) {
        const a0 = p0 * bands[k];
        const a1 = p1 * bands[k];
        angles[tok * hd + 2 * k] = angles[tok * hd + 2 * k + 1] = a0;
        angles[tok * hd + 2 * nb + 2 * k] = angles[tok * hd + 2 * nb + 2 * k + 1] = a1;
      }
    }
  }
  return sinCos(angles, n, hd);
}

/**
 * RotaryEmbeddingDinoV3 in eval mode: coords ((arange(n) + 0.5) / n) * 2 - 1 per axis, periods T^(2k / (hd/2)),
 * k < hd/4; per token [2 pi h / P (hd/4), 2 pi w / P (hd/4)] tiled twice (half layout). [N, 2 hd].
 */
export function dinov3Table(grid: Grid, a: RopeArgs): Float32Array {
  const hd = a.headDim;
  const nb = hd / 4;
  const periods = Float64Array.from({ length: nb }, (_, k) => a.temperature ** ((2 * k) / (hd / 2)));
  const [gh, gw] = grid;
  const n = gh * gw;
  const angles = new Float64Array(n * hd);
  for (let r = 0; r < gh; r++) {
    const ch = ((r + 0.5) / gh) * 2 - 1;
    for (let c = 0; c < gw; c++) {
      const cw = ((c + 0.5) / gw) * 2 - 1;
      const o = (r * gw + c) * hd;
      for (let k = 0; k < nb; k++) {
        const ah = (2 * Math.PI * ch) / periods[k];
        const aw = (2 * Math.PI * cw) / periods[k];
        angles[o + k] = angles[o + 2 * nb + k] = ah;
        angles[o + nb + k] = angles[o + 3 * nb + k] = aw;
      }
    }
  }
  return sinCos(angles, n, hd);
}

/**
 * RotaryEmbeddingMixed for one block: angles t_x * freqs[0, block, h] + t_y * freqs[1, block, h] ('xy': t_x the
 * column; 'ij': the row), each repeated twice in place. freqs [2, depth, heads, hd/2]. [heads, N, 2 hd].
 */
export function mixedTable(grid: Grid, a: RopeArgs, freqs: Float32Array, block: number): Float32Array {
  const hd = a.headDim;
  const h2 = hd / 2;
  const [gh, gw] = grid;
  const n = gh * gw;
  const H = a.numHeads;
  if (freqs.length !== 2 * a.depth * H * h2) throw new Error(`rope.freqs has ${freqs.length} values, expected [2, ${a.depth}, ${H}, ${h2}]`);
  const out = new Float32Array(H * n * 2 * hd);
  const angles = new Float64Array(n * hd);
  for (let h = 0; h < H; h++) {
    const fx = (0 * a.depth + block) * H * h2 + h * h2;
    const fy = (1 * a.depth + block) * H * h2 + h * h2;
    for (let r = 0; r < gh; r++) {
      for (let c = 0; c < gw; c++) {
        const tx = a.gridIndexing === 'xy' ? c : r;
        const ty = a.gridIndexing === 'xy' ? r : c;
        const o = (r * gw + c) * hd;
        for (let k = 0; k < h2; k++) {
          // float32 angles, as timm's get_mixed_freqs computes them (freqs.float())
          angles[o + 2 * k] = angles[o + 2 * k + 1] = Math.fround(Math.fround(tx * freqs[fx + k]) + Math.fround(ty * freqs[fy + k]));
        }
      }
    }
    sinCos(angles, n, hd, out, h * n * 2 * hd);
  }
  return out;
}

/** A rope module of Eva (timm `Eva.rope`): its parameters and the table each block reads for a grid. */
export interface RopeModule {
  parameters(): ParamSpec[];
  /** The rotation table block `block` uses on a gh x gw grid (derived into the store when the program is built). */
  table(g: GraphBuilder, grid: Grid, block: number, start: number, half: boolean): RopeTable;
}

/** Tables shared by every block (cat, dinov3): one store entry per grid. */
class SharedRope implements RopeModule {
  constructor(
    readonly name: string,
    readonly a: RopeArgs,
    readonly make: (grid: Grid, a: RopeArgs) => Float32Array,
  ) {}

  parameters(): ParamSpec[] {
    return [];
  }

  table(g: GraphBuilder, grid: Grid, _block: number, start: number, half: boolean): RopeTable {
    const shape = [1, grid[0] * grid[1], 2 * this.a.headDim];
    const key = g.derive(`@rope/${this.name}/${grid[0]}x${grid[1]}`, shape, () => this.make(grid, this.a));
    return { key, shape, half, start };
  }
}

/** RoPE-Mixed: learnable per-block, per-head frequencies (`rope.freqs`, loaded); one table per block and grid. */
class MixedRope implements RopeModule {
  constructor(readonly a: RopeArgs) {}

  parameters(): ParamSpec[] {
    return [param('rope.freqs', [2, this.a.depth, this.a.numHeads, this.a.headDim / 2], 'trunc_normal')];
  }

  table(g: GraphBuilder, grid: Grid, block: number, start: number, half: boolean): RopeTable {
    const shape = [this.a.numHeads, grid[0] * grid[1], 2 * this.a.headDim];
    const key = g.derive(`@rope/mixed/blocks.${block}/${grid[0]}x${grid[1]}`, shape, (get) =>
      mixedTable(grid, this.a, get('rope.freqs'), block));
    return { key, shape, half, start };
  }
}

/** timm create_rope_embed's rope_type values that vitnode builds (what model_args rope_type accepts). */
export const ROPE_TYPES: Record<string, (a: RopeArgs) => RopeModule> = {
  cat: (a) => new SharedRope('cat', a, catTable),
  mixed: (a) => new MixedRope(a),
  dinov3: (a) => new SharedRope('dinov3', a, dinov3Table),
};

export function makeRope(type: string, a: RopeArgs): RopeModule {
  if (!Object.hasOwn(ROPE_TYPES, type)) throw new Error(`rope_type '${type}' is not built (built: ${Object.keys(ROPE_TYPES).join(', ')})`);
  if (a.headDim % 4) throw new Error(`rope needs a head_dim divisible by 4, got ${a.headDim}`);
  return ROPE_TYPES[type](a);
}
