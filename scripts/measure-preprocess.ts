// Measures vitnode's preprocessing against timm's transform outputs (test/fixtures/preprocess), and, for the
// record in docs/preprocessing.md, what sharp's own resize / ICC handling would give instead.
// Usage: node --import=tsx scripts/measure-preprocess.ts [--sharp]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readSafetensors } from '../lib/index.ts';
import { decodeImage, planTransform, resolveDataConfig, transformImage, type DataConfig } from '../lib/preprocess/index.ts';

const DIR = fileURLToPath(new URL('../test/fixtures/preprocess/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { image: string; cfg_name: string; pretrained_cfg: object; expected: string }[];

export function stats(got: Float32Array, want: Float32Array) {
  let sum = 0;
  let max = 0;
  let within = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    sum += d;
    if (d > max) max = d;
    if (d <= 0.1) within++;
  }
  return { mean: sum / want.length, max, within: within / want.length };
}

/** sharp-only pipeline: sharp's resize (kernel cubic / linear) and crop, with or without ICC (for comparison). */
async function viaSharp(path: string, dc: DataConfig, ignoreIcc: boolean): Promise<Float32Array> {
  const meta = await sharp(path).metadata();
  const plan = planTransform(meta.width!, meta.height!, dc);
  let img = sharp(path, { ignoreIcc });
  if (plan.resize) img = img.resize(plan.resize[0], plan.resize[1], { fit: 'fill', kernel: dc.interpolation === 'bilinear' ? 'linear' : 'cubic' });
  const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const [, H, W] = dc.inputSize;
  const out = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const v = data[((y + plan.crop.top) * info.width + x + plan.crop.left) * info.channels + c];
        out[c * H * W + y * W + x] = (v / 255 - dc.mean[c]) / dc.std[c];
      }
  return out;
}

const withSharp = process.argv.includes('--sharp');
const fmt = (s: ReturnType<typeof stats>) => `mean ${s.mean.toFixed(5)}  max ${s.max.toFixed(4)}  within0.1 ${(100 * s.within).toFixed(2)}%`;
for (const c of manifest) {
  const dc = resolveDataConfig(c.pretrained_cfg);
  const want = readSafetensors(join(DIR, c.expected)).get('input')!.data;
  const path = join(DIR, c.image);
  const t0 = performance.now();
  const got = transformImage(await decodeImage(path), dc);
  const ms = performance.now() - t0;
  // Back to uint8 pixels (the float16 storage of `expected` is the only rounding in between): how many differ?
  const [, H, W] = dc.inputSize;
  let px = 0;
  for (let i = 0; i < want.length; i++) {
    const ch = Math.floor(i / (H * W));
    const u8 = (v: number) => Math.round((v * dc.std[ch] + dc.mean[ch]) * 255);
    if (u8(got[i]) !== u8(want[i])) px++;
  }
  console.log(`${c.image.padEnd(18)} ${c.cfg_name.padEnd(24)} vitnode: ${fmt(stats(got, want))}  uint8 values differing ${px}  (${ms.toFixed(1)} ms)`);
  if (withSharp) {
    console.log(`${''.padEnd(43)} sharp resize, ICC ignored: ${fmt(stats(await viaSharp(path, dc, true), want))}`);
    console.log(`${''.padEnd(43)} sharp resize, ICC applied: ${fmt(stats(await viaSharp(path, dc, false), want))}`);
  }
}
