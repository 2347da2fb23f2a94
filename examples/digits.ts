// The README's first command: classify the bundled handwritten-digit images with a real trained timm ViT, on CPU,
// through the public image API: file paths in, labels out (decoding and timm's eval preprocessing for the model's
// pretrained cfg happen inside model.classify).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel } from '../lib/index.ts';

const here = join(dirname(fileURLToPath(import.meta.url)), 'digits');
const files = readdirSync(join(here, 'images')).filter((f) => f.endsWith('.png')).sort();

// A Hugging Face-style model folder: config.json (architecture, model_args, pretrained_cfg with label_names) and
// model.safetensors (timm state_dict keys). model.label names the source: a vit_base_patch16_224 with custom
// model_args (32 px, patch 4, 4 blocks), not timm's ViT-B/16.
const model = await createModel(here);
const t0 = performance.now();
const predictions = await model.classify(files.map((f) => join(here, 'images', f)), { topK: 1 });
const ms = performance.now() - t0;

let correct = 0;
for (const [i, f] of files.entries()) {
  const [{ label, score }] = predictions[i];
  const truth = /label(\d+)/.exec(f)![1];
  correct += Number(label === truth);
  console.log(`${f.padEnd(18)} predicted ${label} (${(100 * score).toFixed(1)}%)  ${label === truth ? 'ok' : `WRONG (label ${truth})`}`);
}
console.log(`\n${model.label}: ${correct}/${files.length} correct (${((100 * correct) / files.length).toFixed(1)}% accuracy) in ${ms.toFixed(1)} ms on CPU (decode + preprocess + forward)`);
model.dispose();
