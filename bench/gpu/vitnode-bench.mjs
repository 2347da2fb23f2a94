// vitnode side of bench/gpu: the same timm weights (saved by torch_bench.py prepare), on cuda, float32 / TF32 /
// float16 / bfloat16, batch 1, 8, 64, 256. Logits agreement with timm first, then img/s (one request at a time,
// and two in flight so one request's input transfer overlaps the other's compute), batch-1 latency p50/p99,
// and the process's device memory (nvidia-smi, includes the CUDA context). Inputs start on the host as
// Float32Arrays and logits come back to the host: the timings include both transfers.
// Orchestrator: node bench/gpu/vitnode-bench.mjs --weights DIR --out FILE [--deadline EPOCH_MS]
// (one child process per (model, dtype), so memory is per configuration and a crash loses one group only).
import { spawnSync, execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MODELS = ['vit_base_patch16_224', 'vit_small_patch16_224', 'deit_tiny_patch16_224', 'vit_large_patch16_224'];
const DTYPES = ['bfloat16', 'float16', 'tf32', 'float32'];
const BATCHES = [256, 1, 8, 64];

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const weights = opt('--weights', join(ROOT, 'gpu-out', 'weights'));
const out = opt('--out', join(ROOT, 'gpu-out', 'vitnode-results.jsonl'));
const deadline = Number(opt('--deadline', '0')) || Infinity;
const budget = Number(opt('--budget', '0.6'));

function smiMib(pid) {
  try {
    const s = execFileSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10000 });
    for (const line of s.split('\n')) {
      const [p, m] = line.split(',').map((x) => x.trim());
      if (Number(p) === pid) return Number(m);
    }
  } catch {}
  return null;
}

function relErr(got, want) {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / Math.max(1, m);
}

const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

async function group(model, dtypeName) {
  const emit = (r) => console.log(JSON.stringify({ engine: 'vitnode', model, dtype: dtypeName, time: Date.now() / 1000, ...r }));
  const lib = await import(join(ROOT, 'dist', 'index.js'));
  const dtype = dtypeName === 'tf32' ? 'float32' : dtypeName;
  const t0 = performance.now();
  const m = await lib.createModel(model, { checkpoint: join(weights, `${model}.safetensors`), device: 'cuda', dtype, tf32: dtypeName === 'tf32' });
  emit({ kind: 'load', seconds: (performance.now() - t0) / 1000 });
  const ref = lib.readSafetensors(join(weights, `${model}.ref.safetensors`));
  const xi = ref.get('input');
  const y = await m.forward(new lib.Tensor(xi.data, xi.shape));
  const rec = { kind: 'agreement', err_vs_timm_f32: relErr(y.data, ref.get('logits').data) };
  if (ref.has(`logits_${dtype}`)) rec.err_vs_timm_same_dtype = relErr(y.data, ref.get(`logits_${dtype}`).data);
  rec.tol = dtypeName === 'float32' ? 1e-4 : 2e-2;
  rec.ok = rec.err_vs_timm_f32 <= rec.tol;
  emit(rec);
  for (const batch of BATCHES) {
    if (Date.now() > deadline) {
      emit({ kind: 'skipped', batch, why: 'time budget' });
      continue;
    }
    const data = new Float32Array(batch * 3 * 224 * 224);
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = s / 2147483648 - 1;
    }
    const x = new lib.Tensor(data, [batch, 3, 224, 224]);
    for (let i = 0; i < 3; i++) await m.forward(x); // eager, graph capture, replay
    await Promise.all([m.forward(x), m.forward(x)]); // second staging slot captured too
    let t = performance.now();
    await m.forward(x);
    const one = (performance.now() - t) / 1000;
    const n = batch === 1 ? Math.max(20, Math.min(300, Math.ceil(budget / one))) : Math.max(3, Math.min(50, Math.ceil(budget / one)));
    const times = [];
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      t = performance.now();
      await m.forward(x);
      times.push(performance.now() - t);
    }
    const seq = (n * batch) / ((performance.now() - start) / 1000);
    // Two requests in flight.
    const start2 = performance.now();
    let issued = 0;
    const worker = async () => {
      while (issued < n) {
        issued++;
        await m.forward(x);
      }
    };
    await Promise.all([worker(), worker()]);
    const conc = (n * batch) / ((performance.now() - start2) / 1000);
    emit({ kind: 'result', batch, iters: n, img_s: Math.max(seq, conc), img_s_seq: seq, img_s_2inflight: conc, ms_p50: pct(times, 50), ms_p99: pct(times, 99) });
  }
  emit({ kind: 'memory', process_mib: smiMib(process.pid) });
  m.dispose();
}

if (args[0] === '--group') {
  try {
    await group(args[1], args[2]);
  } catch (e) {
    console.log(JSON.stringify({ engine: 'vitnode', model: args[1], dtype: args[2], kind: 'error', error: `${e.code ?? ''} ${e.message}`.slice(0, 800) }));
    process.exitCode = 1;
  }
} else {
  for (const model of MODELS) {
    for (const dtype of DTYPES) {
      const left = deadline - Date.now();
      if (left < 5000) {
        appendFileSync(out, JSON.stringify({ engine: 'vitnode', model, dtype, kind: 'skipped', why: 'time budget' }) + '\n');
        continue;
      }
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--group', model, dtype, '--weights', weights, '--deadline', String(deadline), '--budget', String(budget)], {
        encoding: 'utf8',
        timeout: Math.max(5000, Math.min(left, 180000)),
        maxBuffer: 64 << 20,
      });
      const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
      for (const l of lines) appendFileSync(out, l + '\n');
      process.stdout.write(lines.map((l) => l + '\n').join(''));
      if (r.status !== 0 || r.error) {
        const err = { engine: 'vitnode', model, dtype, kind: 'error', error: `exit ${r.status} signal ${r.signal} ${r.error ?? ''} ${(r.stderr ?? '').slice(-1500)}` };
        appendFileSync(out, JSON.stringify(err) + '\n');
        console.log(JSON.stringify(err));
      }
    }
  }
}
