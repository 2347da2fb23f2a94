// One benchmark cell in its own process: load one engine, warm up, time it, report JSON on stdout.
// Peak RSS is this process's alone (node + tsx + the one engine + its weights + the run): the kernel's VmHWM of
// this process image. getrusage's maxrss is NOT used on Linux: it survives execve, so a child spawned from the
// (large) driver would inherit the driver's peak.
// The machine may be shared: `foreignCpu` is the CPU time other processes used during the timed section, in
// cores (total busy time from /proc/stat minus this process's own CPU time), so noisy cells can be spotted.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadEngine, type EngineName, type EnginePaths } from './engines.ts';
import { seededInput } from './stats.ts';

export interface CellArgs {
  engine: EngineName;  // 'torch' cells run bench/torch_peer.py instead of this file
  model: string;
  batch: number;
  threads: number;
  seconds: number;
  warmupSeconds: number;
  minRuns: number;
  paths: EnginePaths;
  imgSize: number;
}

export interface CellResult {
  engine: EngineName;
  version: string;
  model: string;
  batch: number;
  threads: number;
  runs: number;
  seconds: number;
  imgPerSec: number;
  msPerBatch: number;
  p50Ms: number;
  p99Ms: number;
  samplesMs: number[];
  loadMs: number;
  foreignCpu: number | null;
  baselineRssMB: number;
  peakRssMB: number;
  rssAfterMB: number;
  /** vitnode only: float32 weight bytes and the planned activation arena of the live program(s), MiB. */
  weightsMB?: number;
  activationsMB?: number;
}

/** Peak resident set of this process image in MiB (Linux VmHWM; elsewhere getrusage maxrss). */
function peakRssMB(): number {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Busy CPU seconds of the whole machine so far (/proc/stat), or null where unavailable. */
function machineBusySeconds(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    return busy / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]) as CellArgs;
  const baselineRssMB = peakRssMB();
  const t0 = performance.now();
  const engine = await loadEngine(a.engine as 'vitnode' | 'vitnode-bf16' | 'ort', a.model, a.paths, a.threads);
  const loadMs = performance.now() - t0;
  const x = seededInput(a.batch * 3 * a.imgSize * a.imgSize, 1234 + a.batch);

  // Warm-up: at least 2 runs and warmupSeconds.
  const w0 = performance.now();
  for (let i = 0; i < 2 || performance.now() - w0 < a.warmupSeconds * 1000; i++) await engine.run(x, a.batch);

  const samples: number[] = [];
  const busy0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const s0 = performance.now();
  while (performance.now() - s0 < a.seconds * 1000 || samples.length < a.minRuns) {
    const t = performance.now();
    await engine.run(x, a.batch);
    samples.push(performance.now() - t);
  }
  const total = (performance.now() - s0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const busy1 = machineBusySeconds();
  const foreignCpu = busy0 === null || busy1 === null ? null : Math.max(0, (busy1 - busy0 - (cpu.user + cpu.system) / 1e6) / total);
  const rssAfterMB = process.memoryUsage().rss / 2 ** 20;
  const peakRss = peakRssMB();
  const sorted = [...samples].sort((p, q) => p - q);
  const q = (f: number) => {
    const pos = (sorted.length - 1) * f;
    const lo = Math.floor(pos);
    return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
  };
  const result: CellResult = {
    engine: a.engine,
    version: engine.version,
    model: a.model,
    batch: a.batch,
    threads: a.threads,
    runs: samples.length,
    seconds: total,
    imgPerSec: (samples.length * a.batch) / total,
    msPerBatch: (total * 1000) / samples.length,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    samplesMs: samples.map((s) => Math.round(s * 1000) / 1000),
    loadMs,
    foreignCpu,
    baselineRssMB,
    peakRssMB: peakRss,
    rssAfterMB,
  };
  if (a.engine === 'vitnode') {
    const { binding } = await import('../lib/binding.ts');
    const st = binding.nativeStats();
    result.weightsMB = st.weightBytes / 2 ** 20;
    result.activationsMB = st.arenaBytes / 2 ** 20;
  }
  await engine.dispose();
  process.stdout.write(`\n@@RESULT ${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench worker: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
