// Load test and soak of examples/server on 127.0.0.1 with the bundled digits model (offline), bounded in time and
// request count. Not part of `npm test` (it saturates the CPU for a while):
//
//   npm run bench:serve                          # load: batching off vs on (throughput, p50/p99, event-loop delay)
//   npm run bench:serve -- --soak 10000          # + soak: 10,000 requests, RSS growth and live native objects
//   options: --seconds 10 --connections 32 --threads 2 --max-batch-size 16 --max-delay-ms 2 --json
//
// The server runs in a child process (so autocannon's own work does not disturb its event loop); its /metrics give
// the batch-size histogram, the event-loop delay during the run (the histogram resets on each scrape), RSS and the
// live native object counters; on SIGTERM it drains, disposes and prints the counters (all zero: nothing leaked).
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    'max-batch-size': { type: 'string', default: '16' },
    'max-delay-ms': { type: 'string', default: '2' },
    soak: { type: 'string', default: '0' },
    'soak-connections': { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(a.seconds);
const connections = Number(a.connections);

const imgDir = join(root, 'examples', 'digits', 'images');
const bodies = readdirSync(imgDir).filter((f) => f.endsWith('.png')).sort().slice(0, 16).map((f) => readFileSync(join(imgDir, f)));
const requests = bodies.map((body) => ({ method: 'POST' as const, path: '/v1/classify?topK=1', body, headers: { 'content-type': 'image/png' } }));

interface Child {
  proc: ChildProcess;
  url: string;
  lines: AsyncIterator<string>;
}

async function startChild(batching: boolean): Promise<Child> {
  const args = ['--import=tsx', join(root, 'examples/server/main.ts'), '--port', '0', '--threads', a.threads!, '--max-queue', '1024'];
  if (batching) args.push('--max-batch-size', a['max-batch-size']!, '--max-delay-ms', a['max-delay-ms']!);
  else args.push('--no-batching');
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('server exited before listening');
  return { proc, url: (JSON.parse(first.value) as { url: string }).url, lines };
}

async function stopChild(c: Child): Promise<Record<string, number>> {
  c.proc.kill('SIGTERM');
  for (let l = await c.lines.next(); !l.done; l = await c.lines.next()) {
    const j = JSON.parse(l.value) as { nativeStats?: Record<string, number> };
    if (j.nativeStats) return j.nativeStats;
  }
  throw new Error('server exited without its final native stats');
}

async function scrape(url: string): Promise<{ get: (name: string, labels?: string) => number; batchSizes: Record<string, number> }> {
  const text = await (await fetch(url + '/metrics')).text();
  const get = (name: string, labels = '') => {
    const re = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm');
    let sum = 0;
    let found = false;
    for (const m of text.matchAll(re)) {
      if (labels && !(m[1] ?? '').includes(labels)) continue;
      sum += Number(m[2]);
      found = true;
    }
    return found ? sum : NaN;
  };
  // Per-size counts from the cumulative buckets of instance 0.
  const batchSizes: Record<string, number> = {};
  let prev = 0;
  for (const m of text.matchAll(/^vitnode_batch_size_bucket\{instance="0",device="cpu",le="(\d+)"\} (\d+)$/gm)) {
    const c = Number(m[2]) - prev;
    prev = Number(m[2]);
    if (c > 0) batchSizes[m[1]] = c;
  }
  return { get, batchSizes };
}

const ms = (v: number) => Math.round(v * 100) / 100;

async function load(batching: boolean) {
  const c = await startChild(batching);
  try {
    await autocannon({ url: c.url, connections, amount: 400, requests }); // warm-up: every batch size's program
    await scrape(c.url); // resets the event-loop delay histogram
    const before = await scrape(c.url);
    const r = await autocannon({ url: c.url, connections, duration: seconds, requests });
    const m = await scrape(c.url);
    const batches = m.get('vitnode_batches_total') - before.get('vitnode_batches_total');
    const served = m.get('vitnode_requests_finished_total', 'outcome="ok"') - before.get('vitnode_requests_finished_total', 'outcome="ok"');
    const native = await stopChild(c);
    return {
      batching,
      connections,
      seconds,
      requests: r.requests.total,
      reqPerSec: ms(r.requests.average),
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      meanBatch: ms(served / batches),
      eventLoopDelayMs: { p50: ms(m.get('nodejs_eventloop_delay_seconds', 'quantile="0.5"') * 1e3), p99: ms(m.get('nodejs_eventloop_delay_seconds', 'quantile="0.99"') * 1e3), max: ms(m.get('nodejs_eventloop_delay_max_seconds') * 1e3) },
      eventLoopUtilization: ms(m.get('nodejs_eventloop_utilization')),
      serverRssMB: Math.round(m.get('process_resident_memory_bytes') / 2 ** 20),
      nativeAfterClose: native,
    };
  } catch (err) {
    c.proc.kill('SIGKILL');
    throw err;
  }
}

async function soak(n: number) {
  const c = await startChild(true);
  try {
    const conns = Number(a['soak-connections']);
    await autocannon({ url: c.url, connections: conns, amount: 2000, requests }); // warm-up
    const m0 = await scrape(c.url);
    const t0 = performance.now();
    const r = await autocannon({ url: c.url, connections: conns, amount: n, requests });
    const wall = (performance.now() - t0) / 1e3;
    const m1 = await scrape(c.url);
    const native = (m: typeof m0) => ({
      weightStores: m.get('vitnode_native_weight_stores'),
      weightBytes: m.get('vitnode_native_weight_bytes'),
      programs: m.get('vitnode_native_programs'),
      arenaBytes: m.get('vitnode_native_arena_bytes'),
    });
    const rss0 = m0.get('process_resident_memory_bytes');
    const rss1 = m1.get('process_resident_memory_bytes');
    const after = await stopChild(c);
    return {
      requests: r.requests.total,
      ok: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      wallS: ms(wall),
      reqPerSec: ms(r.requests.total / wall),
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
      rssMB: { afterWarmup: ms(rss0 / 2 ** 20), afterSoak: ms(rss1 / 2 ** 20) },
      rssGrowthPct: ms((100 * (rss1 - rss0)) / rss0),
      heapUsedMB: { afterWarmup: ms(m0.get('nodejs_heap_used_bytes') / 2 ** 20), afterSoak: ms(m1.get('nodejs_heap_used_bytes') / 2 ** 20) },
      native: { afterWarmup: native(m0), afterSoak: native(m1), afterClose: after },
      eventLoopDelayP99Ms: ms(m1.get('nodejs_eventloop_delay_seconds', 'quantile="0.99"') * 1e3),
    };
  } catch (err) {
    c.proc.kill('SIGKILL');
    throw err;
  }
}

const out: Record<string, unknown> = { host: `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`, node: process.version, threads: Number(a.threads) };
out.unbatched = await load(false);
out.batched = await load(true);
if (Number(a.soak) > 0) out.soak = await soak(Number(a.soak));
if (a.json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(`host: ${out.host}, node ${out.node}, ${out.threads} inference threads, ${connections} connections, ${seconds} s per run`);
  for (const k of ['unbatched', 'batched'] as const) {
    const r = out[k] as Awaited<ReturnType<typeof load>>;
    console.log(
      `${k.padEnd(10)} ${String(r.reqPerSec).padStart(8)} req/s  p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  mean batch ${r.meanBatch}  ` +
        `event-loop delay p99 ${r.eventLoopDelayMs.p99} ms (max ${r.eventLoopDelayMs.max}, busy ${r.eventLoopUtilization})  non-2xx ${r.non2xx}  errors ${r.errors}  RSS ${r.serverRssMB} MB`,
    );
  }
  if (out.soak) console.log('soak:', JSON.stringify(out.soak, null, 2));
}
