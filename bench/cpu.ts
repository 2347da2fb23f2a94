// `npm run bench [-- options]`: vitnode (CPU, oneDNN) vs onnxruntime-node on the same weights.
//
// For each model: a seeded random init of timm's state_dict (lib/weights/init.ts, seed 0) is written once as a
// safetensors checkpoint (vitnode loads it) and into the ONNX export's external weights.bin (bench/onnx-weights.ts).
// Both engines are loaded in this process and their logits compared at every batch size
// (max |vitnode - ort| <= 1e-4 * max |logit_ort|); a model that fails is reported and not timed.
// Then every (model, batch, engine) cell is timed in its own child process (bench/worker.ts) so that its peak RSS
// is its own. Cells are interleaved: within a round the two engines of a cell run back to back, alternating which
// goes first, and each reported figure is the median over rounds; the ratio is the median of per-round ratios.
//
// Options (env in brackets):
//   --models a,b,c        default: deit_tiny_patch16_224,vit_small_patch16_224,vit_base_patch16_224
//   --batches 1,8,32      default 1,8,32
//   --threads N           default 2                 [VITNODE_BENCH_THREADS]
//   --seconds S           timed seconds per cell, default 3   [VITNODE_BENCH_SECONDS]
//   --warmup S            warm-up seconds per cell, default 1
//   --rounds R            default 2                 [VITNODE_BENCH_ROUNDS]
//   --retries N           re-runs of a pair of cells timed while other processes were busy, default 2
//                         (the quietest attempt is kept)                  [VITNODE_BENCH_RETRIES]
//   --wait-quiet S        before each pair of cells, wait up to S s for other processes to go idle, default 60;
//                         0 disables                                     [VITNODE_BENCH_WAIT_QUIET]
//   --torch               also time an optional PyTorch peer (bench/torch_peer.py: python3 + torch + safetensors,
//                         timm's own model when timm imports, else a pure-torch ViT), checked against ORT first
//   --bf16                also time vitnode with the opt-in bfloat16 GEMMs (AVX512-BF16; not timm's float32
//                         numbers: checked against ORT at the bf16 tolerance 2e-2 first)
//   --json                print the results as JSON (and nothing else on stdout)
//   --write [FILE]        replace the generated section of BENCHMARKS.md (or FILE) with this run's results
//   --keep                keep the temp dir with the weights
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '../lib/index.ts';
import type { Block } from '../lib/models/block.ts';
import type { Mlp } from '../lib/models/mlp.ts';
import { VisionTransformer } from '../lib/models/vision-transformer.ts';
import { resolveModel } from '../lib/registry/index.ts';
import { initParams } from '../lib/weights/init.ts';
import { loadEngine, type Engine, type EngineName, type EnginePaths } from './engines.ts';
import { writeOnnxWithWeights } from './onnx-weights.ts';
import { maxAbsDiff, median, seededInput } from './stats.ts';
import type { CellArgs, CellResult } from './worker.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const TOL = 1e-4;
/** A timed section during which other processes used more CPU than this (cores) is re-run. */
const NOISY = 0.15;

interface Opts {
  models: string[];
  batches: number[];
  threads: number;
  seconds: number;
  warmup: number;
  rounds: number;
  retries: number;
  waitQuiet: number;
  json: boolean;
  torch: boolean;
  bf16: boolean;
  write: string | null;
  keep: boolean;
}

function parseArgs(argv: string[]): Opts {
  const env = process.env;
  const o: Opts = {
    models: ['deit_tiny_patch16_224', 'vit_small_patch16_224', 'vit_base_patch16_224'],
    batches: [1, 8, 32],
    threads: Number(env.VITNODE_BENCH_THREADS ?? 2),
    seconds: Number(env.VITNODE_BENCH_SECONDS ?? 3),
    warmup: 1,
    rounds: Number(env.VITNODE_BENCH_ROUNDS ?? 2),
    retries: Number(env.VITNODE_BENCH_RETRIES ?? 2),
    waitQuiet: Number(env.VITNODE_BENCH_WAIT_QUIET ?? 60),
    json: false,
    torch: false,
    bf16: false,
    write: null,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--models') o.models = val().split(',');
    else if (a === '--batches') o.batches = val().split(',').map(Number);
    else if (a === '--threads') o.threads = Number(val());
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--rounds') o.rounds = Number(val());
    else if (a === '--retries') o.retries = Number(val());
    else if (a === '--wait-quiet') o.waitQuiet = Number(val());
    else if (a === '--json') o.json = true;
    else if (a === '--torch') o.torch = true;
    else if (a === '--bf16') o.bf16 = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--write') o.write = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : join(ROOT, 'BENCHMARKS.md');
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0].replace(/^\/\/ ?/gm, '') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  for (const [k, v] of [['threads', o.threads], ['seconds', o.seconds], ['rounds', o.rounds]] as const) {
    if (!(v > 0)) throw new Error(`--${k} must be > 0`);
  }
  if (o.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--batches must be positive integers');
  return o;
}

// ---------- machine ----------

export interface Machine {
  cpu: string;
  cores: number;
  threadsPerCore: string;
  flags: string;
  memoryGiB: number;
  hypervisor: string;
  os: string;
  node: string;
}

function machine(): Machine {
  let lscpu = '';
  try {
    lscpu = execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  } catch {
    /* not Linux or no lscpu */
  }
  const field = (name: string) => lscpu.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1].trim() ?? '';
  const flags = new Set(field('Flags').split(/\s+/));
  const wanted = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16', 'amx_int8'];
  let os = `${process.platform} ${process.arch}`;
  try {
    os = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    /* ignore */
  }
  return {
    cpu: field('Model name') || cpus()[0]?.model || 'unknown',
    cores: Number(field('CPU\\(s\\)')) || cpus().length,
    threadsPerCore: field('Thread\\(s\\) per core'),
    flags: flags.size > 1 ? wanted.filter((f) => flags.has(f)).join(' ') : 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    hypervisor: field('Hypervisor vendor') || 'none',
    os,
    node: process.version,
  };
}

// ---------- weights + agreement ----------

interface Prepared {
  model: string;
  imgSize: number;
  paths: EnginePaths;
  params: number;
  numHeads: number;
  /** Multiply-adds x 2 of one image's forward (patch GEMM, the blocks' GEMMs and attention products, head). */
  flopsPerImage: number;
  check: { engine: EngineName; batch: number; maxAbsDiff: number; maxAbsLogit: number; ok: boolean }[];
  error?: string;
  /** Set when the optional PyTorch peer failed its check (the model is still timed for vitnode and ORT). */
  torchError?: string;
  /** Set when --bf16 could not run or failed its check. */
  bf16Error?: string;
}

function modelFlops(v: VisionTransformer, cfg: ReturnType<typeof resolveModel>['config']): number {
  const [gh, gw] = v.patchEmbed.gridSize;
  const n = gh * gw;
  const t = v.tokens.numPrefixTokens + n;
  const d = v.embedDim;
  const blk = v.blocks[0] as Block;
  const hid = (blk.mlp as Mlp).fc1.outFeatures;
  const [ph, pw] = Array.isArray(cfg.patchSize) ? cfg.patchSize : [cfg.patchSize, cfg.patchSize];
  const k = cfg.inChans * ph * pw;
  const perBlock = 2 * t * d * 3 * d + 2 * t * d * d + 2 * t * d * hid * 2 + 2 * 2 * t * t * d;
  // vitnode's logits-only forward runs proj, the MLP and the queries of the last block on the head's tokens only;
  // count what it executes, so the % of the SGEMM peak stays an efficiency (ORT and torch run every row).
  const dropped = t - (v.headTokens ?? t);
  const pruned = dropped * (2 * d * d + 2 * d * hid * 2) + 2 * 2 * dropped * t * d;
  return 2 * n * k * d + v.blocks.length * perBlock - pruned + 2 * d * cfg.numClasses;
}

/** GFLOP/s of oneDNN's matmul on a 2048^3 product (packed weights) through vitnode's linear op. */
async function sgemmPeak(threads: number): Promise<number> {
  const { binding } = await import('../lib/binding.ts');
  const { GraphBuilder } = await import('../lib/graph/builder.ts');
  const n = 2048;
  const store = new binding.WeightStore();
  store.set('w', [n, n], seededInput(n * n, 5));
  const g = new GraphBuilder();
  g.output('y', g.op('linear', 'l', [g.input([n, n])], [n, n], { weights: { weight: 'w' } }));
  const prog = new binding.Program(g.spec(), store, { device: 'cpu' });
  const x = [seededInput(n * n, 6)];
  for (let i = 0; i < 3; i++) prog.runSync(x, threads);
  const xs: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < 3000 || xs.length < 10) {
    const t = performance.now();
    prog.runSync(x, threads);
    xs.push(performance.now() - t);
  }
  prog.dispose();
  store.dispose();
  return (2 * n ** 3) / (Math.min(...xs) / 1000) / 1e9;
}

async function prepare(model: string, dir: string, o: Opts, log: (s: string) => void): Promise<Prepared> {
  const cfg = resolveModel(model).config;
  const module = new VisionTransformer(cfg);
  const tensors = initParams(module.parameters(), 0);
  const checkpoint = join(dir, `${model}.safetensors`);
  writeSafetensors(checkpoint, tensors.map((t) => [t.key, { shape: t.shape, data: t.data }]));
  const onnx = writeOnnxWithWeights(model, new Map(tensors.map((t) => [t.key, { shape: t.shape, data: t.data }])), dir);
  const p: Prepared = {
    model,
    imgSize: cfg.imgSize[0],
    paths: { checkpoint, onnx },
    params: tensors.reduce((a, t) => a + t.data.length, 0),
    numHeads: cfg.numHeads,
    flopsPerImage: modelFlops(module, cfg),
    check: [],
  };
  const engines = {
    vitnode: await loadEngine('vitnode', model, p.paths, o.threads),
    ort: await loadEngine('ort', model, p.paths, o.threads),
  };
  try {
    for (const batch of o.batches) {
      const x = seededInput(batch * 3 * p.imgSize * p.imgSize, 99 + batch);
      const a = await engines.vitnode.run(x, batch);
      const b = await engines.ort.run(x, batch);
      const { diff, scale } = maxAbsDiff(a, b);
      const ok = a.length === b.length && diff <= TOL * scale;
      p.check.push({ engine: 'vitnode', batch, maxAbsDiff: diff, maxAbsLogit: scale, ok });
      log(`  check ${model} batch ${batch}: max|vitnode-ort| = ${diff.toExponential(2)}, max|logit| = ${scale.toFixed(3)} -> ${ok ? 'ok' : 'MISMATCH'}`);
      if (!ok) {
        p.error = `logits disagree at batch ${batch}: max|vitnode - ort| = ${diff.toExponential(3)} > ${TOL} x max|logit| (${scale.toExponential(3)}); not timed`;
        break;
      }
      if (o.torch && !p.torchError) {
        const t = torchLogits(p, batch, x, dir, o.threads);
        const c = maxAbsDiff(t, b);
        const tok = t.length === b.length && c.diff <= TOL * c.scale;
        p.check.push({ engine: 'torch', batch, maxAbsDiff: c.diff, maxAbsLogit: c.scale, ok: tok });
        log(`  check ${model} batch ${batch}: max|torch-ort|   = ${c.diff.toExponential(2)} -> ${tok ? 'ok' : 'MISMATCH'}`);
        if (!tok) p.torchError = `PyTorch peer logits disagree with ORT at batch ${batch} (${c.diff.toExponential(3)}); torch not timed`;
      }
    }
    if (o.bf16) await checkBf16(p, engines.ort, o, log);
  } finally {
    await engines.vitnode.dispose();
    await engines.ort.dispose();
  }
  return p;
}

const BF16_TOL = 2e-2;

/** The opt-in bfloat16 path against ORT's float32 logits, at the 16-bit tolerance; sets p.bf16Error otherwise. */
async function checkBf16(p: Prepared, ort: Engine, o: Opts, log: (s: string) => void): Promise<void> {
  let bf: Engine | null = null;
  try {
    bf = await loadEngine('vitnode-bf16', p.model, p.paths, o.threads);
    for (const batch of o.batches) {
      const x = seededInput(batch * 3 * p.imgSize * p.imgSize, 99 + batch);
      const { diff, scale } = maxAbsDiff(await bf.run(x, batch), await ort.run(x, batch));
      const ok = diff <= BF16_TOL * scale;
      p.check.push({ engine: 'vitnode-bf16', batch, maxAbsDiff: diff, maxAbsLogit: scale, ok });
      log(`  check ${p.model} batch ${batch}: max|vitnode bf16-ort| = ${diff.toExponential(2)} -> ${ok ? 'ok' : 'MISMATCH'}`);
      if (!ok) {
        p.bf16Error = `bfloat16 logits disagree with ORT at batch ${batch} (${diff.toExponential(3)}); bf16 not timed`;
        break;
      }
    }
  } catch (err) {
    p.bf16Error = `bfloat16 unavailable: ${(err as Error).message}`;
  } finally {
    await bf?.dispose();
  }
}

function torchLogits(p: Prepared, batch: number, x: Float32Array, dir: string, threads: number): Float32Array {
  const input = join(dir, `${p.model}.b${batch}.input.bin`);
  const output = join(dir, `${p.model}.b${batch}.torch.bin`);
  writeFileSync(input, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  execFileSync('python3', [join(HERE, 'torch_peer.py'), JSON.stringify({
    mode: 'check', model: p.model, checkpoint: p.paths.checkpoint, numHeads: p.numHeads, batch, imgSize: p.imgSize, threads, input, output,
  })], { stdio: ['ignore', 'ignore', 'inherit'] });
  const buf = readFileSync(output);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

// ---------- timing ----------

function machineBusySeconds(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / 100;
  } catch {
    return null;
  }
}

/**
 * Waits (up to `maxSeconds`) until other processes use less than NOISY cores over a 1 s window; the driver itself
 * is idle meanwhile. Returns the last window's load, or null where /proc/stat is unavailable.
 */
async function waitQuiet(maxSeconds: number, log: (s: string) => void): Promise<number | null> {
  const t0 = Date.now();
  let warned = false;
  for (;;) {
    const b0 = machineBusySeconds();
    if (b0 === null) return null;
    await new Promise((r) => setTimeout(r, 1000));
    const load = machineBusySeconds()! - b0;
    if (load <= NOISY || Date.now() - t0 >= maxSeconds * 1000) {
      if (warned) log(`  ... ${load <= NOISY ? 'quiet' : 'still busy'} after ${Math.round((Date.now() - t0) / 1000)} s (other load ${f2(load)} cores)`);
      return load;
    }
    if (!warned) log(`  machine busy (other load ${f2(load)} cores): waiting up to ${maxSeconds} s for it to settle`);
    warned = true;
  }
}

function runCell(args: CellArgs & { numHeads: number }): Promise<CellResult> {
  return new Promise((resolve, reject) => {
    const cmd = args.engine === 'torch'
      ? ['python3', [join(HERE, 'torch_peer.py'), JSON.stringify({ ...args, mode: 'time', checkpoint: args.paths.checkpoint })]] as const
      : [process.execPath, ['--import=tsx', join(HERE, 'worker.ts'), JSON.stringify(args)]] as const;
    const child = spawn(cmd[0], cmd[1], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (code !== 0 || !line) reject(new Error(`${args.engine} ${args.model} batch ${args.batch}: worker exited with ${code}`));
      else resolve(JSON.parse(line.slice('@@RESULT '.length)) as CellResult);
    });
  });
}

interface Row {
  model: string;
  batch: number;
  vitnode: Summary;
  ort: Summary;
  torch?: Summary;
  /** vitnode img/s over ort img/s, per round and median. */
  ratios: number[];
  ratio: number;
  /** vitnode img/s over torch img/s (median of per-round ratios), with --torch. */
  ratioTorch?: number;
  /** --bf16: vitnode's bfloat16 GEMMs, and their img/s over ORT's (median of per-round ratios). */
  bf16?: Summary;
  ratioBf16?: number;
  flopsPerImage: number;
  /** vitnode: float32 weights + activation arena, MiB (the RSS budget's base). */
  weightsActMB?: number;
}

interface Summary {
  imgPerSec: number;
  msPerBatch: number;
  p50Ms: number;
  p99Ms: number;
  runs: number;
  peakRssMB: number;
  rssAfterMB: number;
  baselineRssMB: number;
  loadMs: number;
  /** Worst CPU load (cores) other processes put on the machine during this engine's timed sections. */
  foreignCpu: number | null;
  perRound: number[];
}

function summarize(cells: CellResult[]): Summary {
  const all = cells.flatMap((c) => c.samplesMs);
  const sorted = [...all].sort((a, b) => a - b);
  const q = (f: number) => {
    const pos = (sorted.length - 1) * f;
    const lo = Math.floor(pos);
    return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
  };
  return {
    imgPerSec: median(cells.map((c) => c.imgPerSec)),
    msPerBatch: median(cells.map((c) => c.msPerBatch)),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    runs: all.length,
    peakRssMB: Math.max(...cells.map((c) => c.peakRssMB)),
    rssAfterMB: median(cells.map((c) => c.rssAfterMB)),
    baselineRssMB: median(cells.map((c) => c.baselineRssMB)),
    loadMs: median(cells.map((c) => c.loadMs)),
    foreignCpu: cells.some((c) => c.foreignCpu === null) ? null : Math.max(...cells.map((c) => c.foreignCpu!)),
    perRound: cells.map((c) => c.imgPerSec),
  };
}

// ---------- output ----------

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function table(rows: Row[], peak: number): string {
  const torch = rows.some((r) => r.torch);
  const head = ['model', 'batch', 'vitnode img/s', 'ort img/s', 'vitnode / ort', 'vitnode ms/batch', 'ort ms/batch',
    'vitnode p50 / p99 ms', 'ort p50 / p99 ms', 'vitnode peak RSS MB', 'ort peak RSS MB'];
  if (torch) head.push('torch* img/s', 'vitnode / torch*', 'torch* peak RSS MB');
  const bf16 = rows.some((r) => r.bf16);
  if (bf16) head.push('vitnode bf16† img/s', 'bf16† / ort');
  head.push('vitnode GFLOP/s (% of SGEMM peak)', 'weights + act. MB (vitnode peak RSS above bare node / it)', 'other load (cores)');
  const lines = [head, head.map(() => '---')];
  for (const r of rows) {
    const line = [
      r.model, String(r.batch), f1(r.vitnode.imgPerSec), f1(r.ort.imgPerSec), `${f2(r.ratio)}x`,
      f1(r.vitnode.msPerBatch), f1(r.ort.msPerBatch),
      `${f1(r.vitnode.p50Ms)} / ${f1(r.vitnode.p99Ms)}`, `${f1(r.ort.p50Ms)} / ${f1(r.ort.p99Ms)}`,
      String(Math.round(r.vitnode.peakRssMB)), String(Math.round(r.ort.peakRssMB)),
    ];
    if (torch) {
      line.push(r.torch ? f1(r.torch.imgPerSec) : '—', r.ratioTorch ? `${f2(r.ratioTorch)}x` : '—', r.torch ? String(Math.round(r.torch.peakRssMB)) : '—');
    }
    if (bf16) line.push(r.bf16 ? f1(r.bf16.imgPerSec) : '—', r.ratioBf16 ? `${f2(r.ratioBf16)}x` : '—');
    const gf = (r.vitnode.imgPerSec * r.flopsPerImage) / 1e9;
    line.push(`${gf.toFixed(0)} (${peak > 0 ? ((100 * gf) / peak).toFixed(0) : '?'}%)`);
    line.push(r.weightsActMB ? `${Math.round(r.weightsActMB)} (${f2((r.vitnode.peakRssMB - r.vitnode.baselineRssMB) / r.weightsActMB)}x)` : '—');
    const loads = [r.vitnode, r.ort, r.torch].filter((x) => x && x.foreignCpu !== null).map((x) => x!.foreignCpu!);
    line.push(loads.length ? f2(Math.max(...loads)) : 'n/a');
    lines.push(line);
  }
  return lines.map((l) => `| ${l.join(' | ')} |`).join('\n');
}

function markdown(m: Machine, o: Opts, rows: Row[], prepared: Prepared[], versions: Record<string, string>, date: string, command: string): string {
  const s: string[] = [];
  s.push(`Date: ${date}  `);
  s.push(`Command: \`${command}\`  `);
  s.push(`Machine: ${m.cpu}, ${m.cores} logical CPUs (${m.threadsPerCore} thread(s) per core), ${m.memoryGiB} GiB, hypervisor ${m.hypervisor}, ${m.os}  `);
  s.push(`CPU flags (summary): ${m.flags}  `);
  s.push(`Software: node ${m.node}, ${versions.ort ?? 'onnxruntime-node'}, vitnode ${versions.vitnodeGemm ?? ''}${versions.torch ? `, ${versions.torch}` : ''}  `);
  s.push(`Settings: ${o.threads} threads (ORT: intraOpNumThreads ${o.threads}, interOpNumThreads 1, graphOptimizationLevel all, sequential), ` +
    `${o.seconds} s timed per cell after ${o.warmup} s warm-up, ${o.rounds} round(s), float32, seeded random weights (same bytes for both engines).`);
  s.push('');
  s.push(`SGEMM peak: ${versions.sgemmPeak ?? '?'} GFLOP/s — oneDNN matmul on a 2048 x 2048 x 2048 float32 product with packed weights, ` +
    `through vitnode's linear op, ${o.threads} threads, best of >= 3 s at the start and >= 3 s at the end (the yardstick for the GFLOP/s column; FLOPs count the GEMMs and attention products vitnode executes: its logits-only forward computes the last block's proj, MLP and queries for the class token only, ~6 % fewer than the full model).  `);
  s.push('');
  s.push(table(rows, Number(versions.sgemmPeak ?? 0)));
  s.push('');
  s.push('vitnode / ort = vitnode img/s / onnxruntime-node img/s (median of the per-round ratios; > 1 means vitnode is faster). ' +
    'img/s and ms/batch: median over rounds; p50 / p99: over all timed runs of all rounds; ' +
    'peak RSS: VmHWM of the child process that ran only that engine and cell (node + tsx + engine + weights + run, load included; ' +
    `a bare node + tsx child is ~${Math.round(rows[0]?.vitnode.baselineRssMB ?? 0)} MB). ` +
    'other load: the most CPU (in cores) that other processes used during a timed section — the machine is shared; ' +
    `a pair of cells is re-run (up to ${o.retries} times, the quietest kept) when it exceeds ${NOISY} cores.`);
  if (rows.some((r) => r.torch)) {
    s.push('');
    s.push('torch*: optional PyTorch peer (`--torch`, bench/torch_peer.py): timm\'s own model (`timm.create_model` + the same ' +
      'safetensors; eager, inference_mode, torch.set_num_threads), importing timm with an inert stand-in for torchvision where the ' +
      'installed one cannot load (its imports serve datasets and transforms a ViT forward never runs); without timm, a pure-torch ' +
      'forward of the same ViT (the Software line says which). Its logits are checked against ORT first.');
  }
  for (const p of prepared.filter((x) => x.torchError)) s.push(`- ${p.model}: ${p.torchError}`);
  if (rows.some((r) => r.bf16)) {
    s.push('');
    s.push('bf16†: vitnode with the opt-in bfloat16 GEMMs (`--bf16`; `dtype: \'bfloat16\'` on CPU, AVX512-BF16): not timm\'s ' +
      `float32 numbers (logits checked against ORT at ${BF16_TOL} x max|logit|, the 16-bit tolerance); float32 columns are the targets.`);
  }
  for (const p of prepared.filter((x) => x.bf16Error)) s.push(`- ${p.model}: ${p.bf16Error}`);
  const failed = prepared.filter((p) => p.error);
  if (failed.length) {
    s.push('');
    for (const f of failed) s.push(`- **${f.model}: not timed** — ${f.error}`);
  }
  return s.join('\n');
}

const START = '<!-- bench:cpu:start (generated by `npm run bench -- --write`; edit outside these markers) -->';
const END = '<!-- bench:cpu:end -->';

function writeMarkdown(file: string, body: string): void {
  const section = `${START}\n${body}\n${END}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const a = text.indexOf('<!-- bench:cpu:start');
  const b = text.indexOf(END);
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + END.length);
  else {
    if (!text) text = '# Benchmarks\n\n';
    text += `\n## CPU: vitnode vs onnxruntime-node\n\n${section}\n`;
  }
  writeFileSync(file, text);
}

// ---------- main ----------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string) => (o.json ? process.stderr : process.stdout).write(s + '\n');
  const m = machine();
  const { binding } = await import('../lib/binding.ts');
  const versions: Record<string, string> = { vitnodeGemm: `(${binding.cpuInfo().gemm})` };
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  // The yardstick is measured on a quiet machine, at the start and again at the end (the higher one is kept).
  if (o.waitQuiet > 0) await waitQuiet(o.waitQuiet, log);
  let peak = await sgemmPeak(o.threads);
  versions.sgemmPeak = peak.toFixed(0);
  log(`SGEMM peak (oneDNN 2048^3 via vitnode's linear op, ${o.threads} threads): ${versions.sgemmPeak} GFLOP/s`);
  log(`vitnode vs onnxruntime-node — ${m.cpu}, ${m.cores} CPUs [${m.flags}], ${o.threads} threads, ${date}`);
  const dir = mkdtempSync(join(tmpdir(), 'vitnode-bench-'));
  const prepared: Prepared[] = [];
  const rows: Row[] = [];
  try {
    for (const model of o.models) {
      log(`preparing ${model} (weights + agreement check)`);
      try {
        prepared.push(await prepare(model, dir, o, log));
      } catch (err) {
        prepared.push({ model, imgSize: 224, paths: { checkpoint: '', onnx: '' }, params: 0, numHeads: 0, flopsPerImage: 0, check: [], error: (err as Error).message });
      }
      const p = prepared[prepared.length - 1];
      if (p.error) log(`  ${model}: ${p.error}`);
    }
    const good = prepared.filter((p) => !p.error);
    const results = new Map<string, Partial<Record<EngineName, CellResult>>[]>(); // key -> per round
    let turn = 0;
    for (let round = 0; round < o.rounds; round++) {
      for (const p of good) {
        for (const batch of o.batches) {
          const key = `${p.model}|${batch}`;
          const engines: EngineName[] = ['vitnode', 'ort'];
          if (o.torch && !p.torchError) engines.push('torch');
          if (o.bf16 && !p.bf16Error) engines.push('vitnode-bf16');
          // Rotate which engine goes first, so neither always runs on a warmer / cooler machine.
          const order = engines.map((_, i) => engines[(i + turn) % engines.length]);
          turn++;
          let best: { got: Partial<Record<EngineName, CellResult>>; noise: number } | null = null;
          for (let attempt = 0; attempt <= o.retries; attempt++) {
            if (o.waitQuiet > 0) await waitQuiet(o.waitQuiet, log);
            const got: Partial<Record<EngineName, CellResult>> = {};
            for (const engine of order) {
              got[engine] = await runCell({
                engine, model: p.model, batch, threads: o.threads, seconds: o.seconds, warmupSeconds: o.warmup,
                minRuns: batch === 1 ? 50 : 5, paths: p.paths, imgSize: p.imgSize, numHeads: p.numHeads,
              });
              versions[engine] = got[engine]!.version;
            }
            const v = got.vitnode!;
            const r = got.ort!;
            const noise = Math.max(...Object.values(got).map((c) => c!.foreignCpu ?? 0));
            const t = got.torch ? `, torch* ${f1(got.torch.imgPerSec)} img/s` : '';
            const bf = got['vitnode-bf16'] ? `, vitnode bf16 ${f1(got['vitnode-bf16'].imgPerSec)} img/s` : '';
            log(`  round ${round + 1} ${p.model} b${batch}: vitnode ${f1(v.imgPerSec)} img/s, ort ${f1(r.imgPerSec)} img/s${t}${bf}, ` +
              `vitnode/ort ${f2(v.imgPerSec / r.imgPerSec)}x (other load ${f2(noise)} cores${noise > NOISY && attempt < o.retries ? ', re-running' : ''})`);
            if (!best || noise < best.noise) best = { got, noise };
            if (noise <= NOISY) break;
          }
          if (!results.has(key)) results.set(key, []);
          results.get(key)!.push(best!.got);
        }
      }
    }
    for (const p of good) {
      for (const batch of o.batches) {
        const rs = results.get(`${p.model}|${batch}`)!;
        const ratios = rs.map((g) => g.vitnode!.imgPerSec / g.ort!.imgPerSec);
        const row: Row = {
          model: p.model, batch, vitnode: summarize(rs.map((g) => g.vitnode!)), ort: summarize(rs.map((g) => g.ort!)),
          ratios, ratio: median(ratios), flopsPerImage: p.flopsPerImage,
        };
        const v0 = rs[0].vitnode!;
        if (v0.weightsMB !== undefined) row.weightsActMB = v0.weightsMB + (v0.activationsMB ?? 0);
        if (rs.every((g) => g['vitnode-bf16'])) {
          row.bf16 = summarize(rs.map((g) => g['vitnode-bf16']!));
          row.ratioBf16 = median(rs.map((g) => g['vitnode-bf16']!.imgPerSec / g.ort!.imgPerSec));
        }
        if (rs.every((g) => g.torch)) {
          row.torch = summarize(rs.map((g) => g.torch!));
          row.ratioTorch = median(rs.map((g) => g.vitnode!.imgPerSec / g.torch!.imgPerSec));
        }
        rows.push(row);
      }
    }
  } finally {
    if (o.keep) log(`weights kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  if (o.waitQuiet > 0) await waitQuiet(o.waitQuiet, log);
  peak = Math.max(peak, await sgemmPeak(o.threads));
  versions.sgemmPeak = peak.toFixed(0);
  log(`SGEMM peak, best of the start and the end: ${versions.sgemmPeak} GFLOP/s`);
  const failed = prepared.filter((p) => p.error);
  const shown = process.argv.slice(2).filter((a, i, all) => a !== '--write' && a !== '--json' && all[i - 1] !== '--write');
  const command = `npm run bench${shown.length ? ' -- ' + shown.join(' ') : ''}`;
  if (o.json) {
    const strip = (s: Summary) => s;
    process.stdout.write(JSON.stringify({
      date, machine: m, versions, options: { ...o, write: undefined }, tolerance: TOL,
      checks: prepared.map((p) => ({ model: p.model, params: p.params, check: p.check, error: p.error ?? null })),
      rows: rows.map((r) => ({ ...r, vitnode: strip(r.vitnode), ort: strip(r.ort) })),
    }, null, 2) + '\n');
  } else {
    log('');
    log(table(rows, Number(versions.sgemmPeak ?? 0)));
    for (const f of failed) log(`${f.model}: NOT TIMED — ${f.error}`);
  }
  if (o.write) {
    writeMarkdown(o.write, markdown(m, o, rows, prepared, versions, date, command));
    log(`wrote ${o.write}`);
  }
  if (failed.length) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
