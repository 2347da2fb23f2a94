// vitnode side of bench/gpu: the same timm weights (saved by torch_bench.py prepare), on cuda, float32 / TF32 /
// float16 / bfloat16, batch 1, 8, 64, 256. Logits agreement with timm first, then img/s (one request at a time,
// and two in flight so one request's input transfer overlaps the other's compute), batch-1 latency p50/p99,
// and the process's device memory (nvidia-smi, includes the CUDA context). Inputs start on the host as
// Float32Arrays and logits come back to the host: the timings include both transfers.
// Orchestrator: node bench/gpu/vitnode-bench.mjs --weights DIR --out FILE [--deadline EPOCH_MS]
//   [--models a,b] [--dtypes a,b] [--batches 256,1] [--engine NAME]
// (one child process per (model, dtype), so memory is per configuration and a crash loses one group only).
// Hybrids (ResNetV2 + ViT) run in float16 / bfloat16 only unless --dtypes names others.
// --engine names the rows (default "vitnode"); a run with other settings (e.g. env VITNODE_CUDA_ATTN=v2, which
// the children inherit) under another name, e.g. "vitnode (attn v2)", is its own row in report.py.
// Profile: node bench/gpu/vitnode-bench.mjs --profile MODEL DTYPE BATCH --weights DIR --out-dir DIR [--tag T]
//   runs one child with VITNODE_CUDA_PROFILE=1 (eager, events around every op) and writes profile.json +
//   profile.md there (profile-T.json / profile-T.md with --tag): mean ms per run of every node, totals per op
//   kind, the transfer phases.
import { spawnSync, execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const list = (k, d) => (opt(k) ? opt(k).split(',').filter(Boolean) : d);
const HYBRIDS = ['vit_base_r50_s16_224', 'vit_small_r26_s32_224'];
const MODELS = list('--models', ['vit_base_patch16_224', 'vit_small_patch16_224', 'deit_tiny_patch16_224', HYBRIDS[0], 'vit_large_patch16_224', HYBRIDS[1]]);
const DTYPES = list('--dtypes', ['bfloat16', 'float16', 'tf32', 'float32']);
const dtypesFor = (model) => (HYBRIDS.includes(model) && !opt('--dtypes') ? DTYPES.filter((d) => d === 'bfloat16' || d === 'float16') : DTYPES);
const BATCHES = list('--batches', ['256', '1', '8', '64']).map(Number);
const weights = opt('--weights', join(ROOT, 'gpu-out', 'weights'));
const out = opt('--out', join(ROOT, 'gpu-out', 'vitnode-results.jsonl'));
const deadline = Number(opt('--deadline', '0')) || Infinity;
const budget = Number(opt('--budget', '0.6'));
const engine = opt('--engine', 'vitnode');
// VITNODE_BENCH_ACT_LAYER=gelu_tanh: the opt-in tanh GELU (cuBLASLt epilogue) for a variant row; not timm's numbers.
const modelExtra = process.env.VITNODE_BENCH_ACT_LAYER ? { actLayer: process.env.VITNODE_BENCH_ACT_LAYER } : {};
const attnKernel = process.env.VITNODE_CUDA_ATTN || 'default';

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
  const emit = (r) => console.log(JSON.stringify({ engine, model, dtype: dtypeName, attn_kernel: attnKernel, time: Date.now() / 1000, ...r }));
  const lib = await import(join(ROOT, 'dist', 'index.js'));
  const dtype = dtypeName === 'tf32' ? 'float32' : dtypeName;
  const t0 = performance.now();
  const m = await lib.createModel(model, { checkpoint: join(weights, `${model}.safetensors`), device: 'cuda', dtype, tf32: dtypeName === 'tf32', ...modelExtra });
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

async function profileRun(model, dtypeName, batch, outDir) {
  const lib = await import(join(ROOT, 'dist', 'index.js'));
  const dtype = dtypeName === 'tf32' ? 'float32' : dtypeName;
  const m = await lib.createModel(model, { checkpoint: join(weights, `${model}.safetensors`), device: 'cuda', dtype, tf32: dtypeName === 'tf32', ...modelExtra });
  const data = new Float32Array(batch * 3 * 224 * 224);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001);
  const x = new lib.Tensor(data, [batch, 3, 224, 224]);
  const iters = Number(opt('--iters', '10'));
  const t0 = performance.now();
  for (let i = 0; i < iters + 1; i++) await m.forward(x); // the first run is not collected
  const wall = (performance.now() - t0) / (iters + 1);
  // Model.programs is TS-private, a plain property at run time.
  const entries = [...m.programs.values()].flatMap((p) => (typeof p.profile === 'function' ? p.profile() : []));
  m.dispose();
  if (!entries.length) throw new Error('no profile entries (is VITNODE_CUDA_PROFILE=1 set and the addon new enough?)');
  const phases = new Set(['stage_inputs', 'h2d', 'd2h', 'outputs']);
  const gpuMs = entries.filter((e) => !phases.has(e.op)).reduce((a, e) => a + e.ms, 0);
  const byOp = {};
  for (const e of entries) {
    if (phases.has(e.op)) continue;
    const o = (byOp[e.op] ??= { op: e.op, ms: 0, count: 0 });
    o.ms += e.ms;
    o.count++;
  }
  // A node's op kind is refined by its name: fc1 / fc2 / qkv / proj linears are told apart.
  const byRole = {};
  for (const e of entries) {
    if (phases.has(e.op)) continue;
    const role = `${e.op}:${e.name.replace(/^blocks\.\d+\./, '')}`;
    const o = (byRole[role] ??= { role, ms: 0, count: 0 });
    o.ms += e.ms;
    o.count++;
  }
  const ops = Object.values(byOp).sort((a, b) => b.ms - a.ms);
  const roles = Object.values(byRole).sort((a, b) => b.ms - a.ms);
  const summary = { model, dtype: dtypeName, batch, attn_kernel: attnKernel, iters, wall_ms_per_run: wall, gpu_ms_per_run: gpuMs, img_s_gpu_only: (batch * 1000) / gpuMs, ops, roles, entries };
  const tag = opt('--tag', '');
  const base = tag ? `profile-${tag}` : 'profile';
  writeFileSync(join(outDir, `${base}.json`), JSON.stringify(summary, null, 1));
  const f = (v) => v.toFixed(3);
  const md = [
    `# vitnode CUDA profile: ${model} ${dtypeName} batch ${batch}`,
    '',
    `Fused attention kernel (VITNODE_CUDA_ATTN): ${attnKernel}.`,
    '',
    `VITNODE_CUDA_PROFILE=1 (eager, a cudaEvent pair around every op: a little slower than graph replay). Mean of ${iters} runs after one warm-up.`,
    `Wall per run (profiled): ${f(wall)} ms. Sum of op times: ${f(gpuMs)} ms (${summary.img_s_gpu_only.toFixed(0)} img/s if compute were all).`,
    '',
    '## Transfer phases (ms per run)',
    '',
    '| phase | op | ms |',
    '|---|---|---|',
    ...entries.filter((e) => phases.has(e.op)).map((e) => `| ${e.name} | ${e.op} | ${f(e.ms)} |`),
    '',
    '## By op kind',
    '',
    '| op | nodes | ms | % of ops |',
    '|---|---|---|---|',
    ...ops.map((o) => `| ${o.op} | ${o.count} | ${f(o.ms)} | ${((100 * o.ms) / gpuMs).toFixed(1)} |`),
    '',
    '## By op and role (block index folded)',
    '',
    '| op:role | nodes | ms | % of ops |',
    '|---|---|---|---|',
    ...roles.map((o) => `| ${o.role} | ${o.count} | ${f(o.ms)} | ${((100 * o.ms) / gpuMs).toFixed(1)} |`),
    '',
    '## Slowest 20 nodes',
    '',
    '| node | op | ms |',
    '|---|---|---|',
    ...entries.filter((e) => !phases.has(e.op)).sort((a, b) => b.ms - a.ms).slice(0, 20).map((e) => `| ${e.name} | ${e.op} | ${f(e.ms)} |`),
  ];
  writeFileSync(join(outDir, `${base}.md`), md.join('\n') + '\n');
  console.log(md.slice(0, 40).join('\n'));
}

if (args[0] === '--profile') {
  const [model, dtype, batch] = args.slice(1, 4);
  if (!process.env.VITNODE_CUDA_PROFILE) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], {
      encoding: 'utf8',
      stdio: 'inherit',
      env: { ...process.env, VITNODE_CUDA_PROFILE: '1' },
      timeout: 170000,
    });
    process.exitCode = r.status ?? 1;
  } else {
    try {
      await profileRun(model, dtype, Number(batch), resolve(opt('--out-dir', join(ROOT, 'gpu-out'))));
    } catch (e) {
      console.log(`profile failed: ${e.code ?? ''} ${e.message}`);
      process.exitCode = 1;
    }
  }
} else if (args[0] === '--group') {
  try {
    await group(args[1], args[2]);
  } catch (e) {
    console.log(JSON.stringify({ engine, model: args[1], dtype: args[2], kind: 'error', error: `${e.code ?? ''} ${e.message}`.slice(0, 800) }));
    process.exitCode = 1;
  }
} else {
  for (const model of MODELS) {
    for (const dtype of dtypesFor(model)) {
      const left = deadline - Date.now();
      if (left < 5000) {
        appendFileSync(out, JSON.stringify({ engine, model, dtype, kind: 'skipped', why: 'time budget' }) + '\n');
        continue;
      }
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--group', model, dtype, '--weights', weights, '--deadline', String(deadline), '--budget', String(budget), '--batches', BATCHES.join(','), '--engine', engine], {
        encoding: 'utf8',
        timeout: Math.max(5000, Math.min(left, 180000)),
        maxBuffer: 64 << 20,
      });
      const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
      for (const l of lines) appendFileSync(out, l + '\n');
      process.stdout.write(lines.map((l) => l + '\n').join(''));
      if (r.status !== 0 || r.error) {
        const err = { engine, model, dtype, kind: 'error', error: `exit ${r.status} signal ${r.signal} ${r.error ?? ''} ${(r.stderr ?? '').slice(-1500)}` };
        appendFileSync(out, JSON.stringify(err) + '\n');
        console.log(JSON.stringify(err));
      }
    }
  }
}
