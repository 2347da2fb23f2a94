// Checkpoint loading benchmark: vit_base_patch16_224 (86.6 M params, 346 MB in f32) from every format, each load
// in a fresh process: wall time of createModel(..., { checkpoint }) and peak RSS (getrusage maxrss) against the
// process's RSS just before loading (node + addon + model structure).
//   node --import=tsx bench/checkpoint-load.ts [--dir /tmp/vitnode-bench-ckpt] [--runs 3]
// Files are generated once into --dir: safetensors by vitnode (seeded weights), .pth (zip) / legacy .pth /
// pytorch_model.bin by torch.save from those tensors (python3 + torch + safetensors), .npz (JAX original layout,
// stored and savez_compressed) by scripts/write-npz.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NAME = 'vit_base_patch16_224';

async function child(path: string): Promise<void> {
  const { createModel } = await import('../lib/index.ts');
  const warm = await createModel('vit_tiny_patch16_224'); // addon, registry, module code loaded (small: maxRSS is monotonic)
  warm.dispose();
  if (global.gc) global.gc();
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const m = await createModel(NAME, { checkpoint: path });
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  const after = process.memoryUsage().rss;
  m.dispose();
  console.log(JSON.stringify({ ms, before, peak, after, loaded: m.loadReport?.loaded }));
}

async function generate(dir: string): Promise<Record<string, string>> {
  mkdirSync(dir, { recursive: true });
  const f = {
    safetensors: join(dir, 'model.safetensors'),
    'pth (zip)': join(dir, 'model.pth'),
    'pth (legacy)': join(dir, 'model_legacy.pth'),
    'pytorch_model.bin': join(dir, 'pytorch_model.bin'),
    'npz (JAX, stored)': join(dir, 'model.npz'),
    'npz (JAX, deflate)': join(dir, 'model_z.npz'),
  };
  const node = (args: string[]) => execFileSync(process.execPath, ['--import=tsx', ...args], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(f.safetensors)) {
    const { createModel, writeSafetensors } = await import('../lib/index.ts');
    const m = await createModel(NAME, { seed: 1 });
    writeSafetensors(f.safetensors, m.stateDict());
    m.dispose();
  }
  if (!existsSync(f['pth (legacy)'])) {
    execFileSync('python3', ['-c', `import torch; from safetensors.torch import load_file
sd = load_file('${f.safetensors}')
torch.save(sd, '${f['pth (zip)']}'); torch.save(sd, '${f['pytorch_model.bin']}')
torch.save({'model': sd, 'epoch': 300}, '${f['pth (legacy)']}', _use_new_zipfile_serialization=False)`], { stdio: 'inherit' });
  }
  if (!existsSync(f['npz (JAX, deflate)'])) {
    node(['scripts/write-npz.ts', f.safetensors, f['npz (JAX, stored)'], 'original', '--heads', '12']);
    node(['scripts/write-npz.ts', f.safetensors, f['npz (JAX, deflate)'], 'original', '--heads', '12', '--compress']);
  }
  return f;
}

async function main() {
  const { values } = parseArgs({ options: { dir: { type: 'string', default: '/tmp/vitnode-bench-ckpt' }, runs: { type: 'string', default: '3' }, child: { type: 'string' } } });
  if (values.child) return child(values.child);
  const files = await generate(values.dir!);
  const rows: string[] = [];
  rows.push('| format | file MB | load s (median of runs) | RSS before MB | peak RSS MB | peak - before MB | (peak - before) / file |');
  rows.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const [label, path] of Object.entries(files)) {
    const size = statSync(path).size;
    const runs = [];
    for (let i = 0; i < Number(values.runs); i++) {
      const out = execFileSync(process.execPath, ['--expose-gc', '--import=tsx', 'bench/checkpoint-load.ts', '--child', path], { cwd: ROOT, encoding: 'utf8' });
      runs.push(JSON.parse(out.trim().split('\n').pop()!));
    }
    runs.sort((a, b) => a.ms - b.ms);
    const med = runs[Math.floor(runs.length / 2)];
    const worst = runs.reduce((a, r) => Math.max(a, r.peak - r.before), 0);
    const mb = (n: number) => (n / 1e6).toFixed(0);
    rows.push(`| ${label} | ${mb(size)} | ${(med.ms / 1000).toFixed(2)} | ${mb(med.before)} | ${mb(med.peak)} | ${mb(worst)} | ${(worst / size).toFixed(2)} |`);
    console.error(rows[rows.length - 1]);
  }
  console.log(rows.join('\n'));
}

await main();
