// The README's first command: classify the bundled handwritten-digit images with a real trained timm ViT, on CPU.
// The images are already 32x32, so preprocessing is timm's eval transform without resizing: to float, mean/std
// normalisation, NCHW.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createModel, Tensor } from '../lib/index.ts';

const here = join(dirname(fileURLToPath(import.meta.url)), 'digits');
const config = JSON.parse(readFileSync(join(here, 'config.json'), 'utf8'));
const { mean, std, input_size: [, H, W] } = config.pretrained_cfg;
const labels: string[] = config.pretrained_cfg.label_names;

const files = readdirSync(join(here, 'images')).filter((f) => f.endsWith('.png')).sort();
const batch = new Float32Array(files.length * 3 * H * W);
for (const [i, f] of files.entries()) {
  const { data, info } = await sharp(join(here, 'images', f)).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.width !== W || info.height !== H || info.channels !== 3) throw new Error(`${f}: expected ${W}x${H} RGB, got ${info.width}x${info.height}x${info.channels}`);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < H * W; p++) batch[((i * 3 + c) * H * W) + p] = (data[p * 3 + c] / 255 - mean[c]) / std[c];
}

const model = await createModel(config, { checkpoint: join(here, 'model.safetensors') });
const t0 = performance.now();
const logits = await model.forward(Tensor.fromFloat32(batch, [files.length, 3, H, W]));
const ms = performance.now() - t0;
let correct = 0;
for (const [i, f] of files.entries()) {
  const row = logits.data.subarray(i * labels.length, (i + 1) * labels.length);
  const pred = row.indexOf(Math.max(...row));
  const truth = Number(/label(\d+)/.exec(f)![1]);
  correct += Number(pred === truth);
  console.log(`${f.padEnd(18)} predicted ${labels[pred]}  ${pred === truth ? 'ok' : `WRONG (label ${truth})`}`);
}
console.log(`\n${model.name}: ${correct}/${files.length} correct (${((100 * correct) / files.length).toFixed(1)}% accuracy) in ${ms.toFixed(1)} ms on CPU`);
model.dispose();
