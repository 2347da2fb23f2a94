// timm resample_patch_embed (layers/patch_embed.py, after FlexiViT): a patch-embedding kernel [O, I, h, w] made
// for another patch size, so that on correspondingly resized patches it gives the same tokens: each kernel times
// the pseudo-inverse of the resize matrix that takes h x w patches to the new size. The resize matrix is the
// native resampler applied to basis patches (F.interpolate's weights, as for pos_embed), so every resample mode
// the loader knows works; timm's .npz path uses bilinear without antialias.
import { resamplePosEmbed, type ResampleMode } from './adapt.ts';
import { pinv } from './pinv.ts';

export function resamplePatchEmbed(w: Float32Array, shape: readonly number[], size: [number, number], mode: ResampleMode): {
  data: Float32Array;
  shape: number[];
} {
  const [O, I, h, wd] = shape;
  const [nh, nw] = size;
  const from = h * wd;
  const to = nh * nw;
  // identity patches as a [1, h*w, h*w] "position table" (one channel per basis patch) -> M [to, from]
  const eye = new Float32Array(from * from);
  for (let i = 0; i < from; i++) eye[i * from + i] = 1;
  const resize = resamplePosEmbed(eye, from, 0, [h, wd], [nh, nw], mode);
  const p = pinv(resize, to, from); // [from, to]
  const out = new Float32Array(O * I * to);
  for (let k = 0; k < O * I; k++) {
    for (let j = 0; j < to; j++) {
      let s = 0;
      for (let i = 0; i < from; i++) s += w[k * from + i] * p[i * to + j];
      out[k * to + j] = s;
    }
  }
  return { data: out, shape: [O, I, nh, nw] };
}
