// Deterministic initialisation for models built without a checkpoint (benchmarks, new heads): timm's scheme
// in spirit (trunc-normal 0.02 weights, zero biases, unit LayerNorm), seeded so runs are reproducible.
import type { Param } from '../models/layers.ts';

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

export function initParam(key: string, shape: number[], seed: number, layerScale: number | null): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const leaf = key.split('.').pop();
  const isNorm = /(^|\.)(norm\d?|fc_norm|norm_pre)\.(weight|bias)$/.test(key);
  if (isNorm) return out.fill(leaf === 'weight' ? 1 : 0);
  // Hybrid backbones: BatchNorm / GroupNorm scales 1, shifts and running means 0, running variances 1.
  if (key.startsWith('patch_embed.backbone.') && shape.length <= 1) {
    return out.fill(leaf === 'weight' || leaf === 'running_var' ? 1 : 0);
  }
  if (leaf === 'bias') return out;
  if (leaf === 'gamma') return out.fill(layerScale ?? 1);
  const rand = mulberry32(seed);
  // Backbone convs: timm's kaiming_normal_(fan_out, relu) scale, so activations keep their size through BN folds.
  const std = key.startsWith('patch_embed.backbone.') && shape.length === 4 ? Math.sqrt(2 / (shape[0] * shape[2] * shape[3])) : 0.02;
  for (let i = 0; i < n; i += 2) {
    // Box-Muller, clipped at 2 sigma like trunc_normal_.
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = Math.max(-2, Math.min(2, r * Math.cos(2 * Math.PI * v))) * std;
    if (i + 1 < n) out[i + 1] = Math.max(-2, Math.min(2, r * Math.sin(2 * Math.PI * v))) * std;
  }
  return out;
}

export function hashKey(key: string, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function initParams(params: Param[], seed: number, layerScale: number | null) {
  return params.map(([k, s]) => ({ key: k, shape: s, data: initParam(k, s, hashKey(k, seed), layerScale) }));
}
