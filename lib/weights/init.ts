// Deterministic initialisation for models built without a checkpoint (benchmarks, new heads): each parameter's
// `init` as the module tree declares it (lib/models/params.ts), seeded per key so runs are reproducible.
import type { ParamSpec } from '../models/params.ts';

/** Small seeded PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) clipped at 2 sigma (Box-Muller), like trunc_normal_. */
function truncNormal(out: Float32Array, std: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const n = out.length;
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = Math.max(-2, Math.min(2, r * Math.cos(2 * Math.PI * v))) * std;
    if (i + 1 < n) out[i + 1] = Math.max(-2, Math.min(2, r * Math.sin(2 * Math.PI * v))) * std;
  }
  return out;
}

export function initParam({ key, shape, init }: ParamSpec, seed: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (init === 'zeros') return out;
  if (init === 'ones') return out.fill(1);
  if (typeof init === 'object') return out.fill(init.value);
  // kaiming_normal_(fan_out, relu): activations keep their size through the backbone's folded norms.
  const std = init === 'kaiming_fan_out' ? Math.sqrt(2 / (shape[0] * shape[2] * shape[3])) : 0.02;
  return truncNormal(out, std, hashKey(key, seed));
}

export function hashKey(key: string, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function initParams(params: ParamSpec[], seed: number) {
  return params.map((p) => ({ key: p.key, shape: p.shape, data: initParam(p, seed) }));
}
