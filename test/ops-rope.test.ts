// The rope op (timm eva.py apply_rot_embed_cat) on odd shapes against a float64 reference: packed qkv (2 sections)
// and lone q (1 section), shared (Ht 1) and per-head (Ht = heads) tables, interleaved and rotate_half pairs,
// prefix tokens left alone, several threads; and its shape refusals.
import test from 'ava';
import { binding } from '../lib/binding.ts';
import { GraphBuilder } from '../lib/graph/builder.ts';
import { errorCode, near, opStore as store, randn, runOp as run } from './helpers.ts';

/** float64 reference: per row (b, t), per section < sections, per head: x*cos + rot(x)*sin for t >= start. */
function ropeRef(x: Float32Array, [B, T, W]: number[], table: Float32Array, ht: number, heads: number, hd: number, sections: number, start: number, half: boolean): number[] {
  const y = Array.from(x);
  const d = heads * hd;
  const n = T - start;
  for (let b = 0; b < B; b++)
    for (let t = start; t < T; t++)
      for (let s = 0; s < sections; s++)
        for (let h = 0; h < heads; h++) {
          const o = (b * T + t) * W + s * d + h * hd;
          const tab = ((ht === 1 ? 0 : h) * n + (t - start)) * 2 * hd;
          for (let j = 0; j < hd; j++) {
            let r: number;
            if (half) r = j < hd / 2 ? -x[o + j + hd / 2] : x[o + j - hd / 2];
            else r = j % 2 ? x[o + j - 1] : -x[o + j + 1];
            y[o + j] = x[o + j] * table[tab + hd + j] + r * table[tab + j];
          }
        }
  return y;
}

test('rope: packed qkv / lone q, shared / per-head tables, both pair layouts, prefix skipped, 1 and 3 threads', (t) => {
  const heads = 3;
  const hd = 8;
  const D = heads * hd;
  for (const [W, sections] of [[3 * D, 2], [D, 1]]) {
    for (const start of [0, 5]) {
      for (const ht of [1, heads]) {
        for (const half of [false, true]) {
          const shape = [2, 11, W];
          const n = shape[1] - start;
          const x = randn(shape.reduce((a, b) => a * b, 1), 31 + W + start + ht, 1.5);
          const table = randn(ht * n * 2 * hd, 41 + start + ht);
          const s = store({ tab: [[ht, n, 2 * hd], table] });
          for (const threads of [1, 3]) {
            const y = run(s, (g) => g.op('rope', 'r', [g.input(shape)], shape, {
              weights: { table: 'tab' }, attrs: { heads, sections, start, half: half ? 1 : 0 },
            }), [x], threads);
            near(t, y, shape, ropeRef(x, shape, table, ht, heads, hd, sections, start, half), `W ${W} start ${start} Ht ${ht} half ${half} threads ${threads}`);
          }
          s.dispose();
        }
      }
    }
  }
});

test('rope: tables that do not fit are refused with VIT_E_SHAPE', (t) => {
  const shape = [1, 6, 48];
  const bad = (tabShape: number[], attrs: { heads: number; sections?: number; start?: number }) => {
    const s = store({ tab: [tabShape, new Float32Array(tabShape.reduce((a, b) => a * b, 1))] });
    const g = new GraphBuilder();
    g.output('y', g.op('rope', 'r', [g.input(shape)], shape, { weights: { table: 'tab' }, attrs }));
    const code = errorCode(() => new binding.Program(g.spec(), s, { device: 'cpu' }).dispose());
    s.dispose();
    return code;
  };
  t.is(bad([1, 6, 16], { heads: 2, sections: 1 }), 'no error', 'fits');
  t.is(bad([1, 5, 16], { heads: 2 }), 'VIT_E_SHAPE', 'a row per rotated token');
  t.is(bad([1, 5, 16], { heads: 2, start: 1 }), 'no error', 'prefix token skipped');
  t.is(bad([3, 6, 16], { heads: 2 }), 'VIT_E_SHAPE', 'Ht must be 1 or heads');
  t.is(bad([1, 6, 16], { heads: 2, sections: 4 }), 'VIT_E_SHAPE', 'sections beyond the width');
  t.is(bad([1, 6, 6], { heads: 2 }), 'VIT_E_SHAPE', 'hd odd');
});
