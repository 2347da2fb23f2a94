// A vitnode inference server on node:http: a model pool behind dynamic batchers.
//
//   POST /v1/classify?topK=5                          body: the image (PNG/JPEG/WebP/... bytes)   -> {predictions}
//   POST /v1/embed                                    body: the image                             -> {embedding, dim}
//   POST /v1/features?outIndices=1,2&format=NLC&norm=1 body: the image                            -> {features, featureInfo}
//   GET  /healthz                                     200 {status: 'ok'} | 503 while shutting down
//   GET  /metrics                                     Prometheus text (queue depth, batch sizes, latency, event-loop
//                                                     delay since the last scrape, RSS, live native objects)
//
// Errors are JSON {error: {code, message}}: 400 bad input, 413 body too large, 429 queue full (Retry-After: 1),
// 503 shutting down, 504 timed out. A client that disconnects cancels its queued request.
import { createServer as httpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { createPool, nativeStats, PromText, VitError, type ModelPool, type ModelSource } from '../../lib/index.ts';

export interface ServerOptions {
  /** Model name, config.json path or model folder. */
  model: ModelSource;
  checkpoint?: string;
  /** false: every request is its own forward (maxBatchSize 1, no delay); the baseline the load test compares. */
  batching?: boolean;
  maxBatchSize?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  timeoutMs?: number;
  /** CPU inference threads (default: cores - 1, leaving one core to the event loop, HTTP and image decoding). */
  threads?: number;
  devices?: string[];
  instancesPerDevice?: number;
  port?: number;
  host?: string;
  /** Largest accepted body (default 16 MiB). */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  server: Server;
  pool: ModelPool;
  /** Stops accepting, drains the queue, disposes the models. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const STATUS: Record<string, number> = {
  VIT_E_OVERLOADED: 429,
  VIT_E_CLOSED: 503,
  VIT_E_TIMEOUT: 504,
  VIT_E_IMAGE: 400,
  VIT_E_ARGUMENT: 400,
  VIT_E_SHAPE: 400,
  VIT_E_UNSUPPORTED: 400,
};

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const batching = opts.batching ?? true;
  const pool = await createPool(opts.model, {
    devices: opts.devices,
    instancesPerDevice: opts.instancesPerDevice,
    threads: opts.threads ?? Math.max(1, availableParallelism() - 1),
    model: opts.checkpoint ? { checkpoint: opts.checkpoint } : {},
    batcher: {
      maxBatchSize: batching ? (opts.maxBatchSize ?? 8) : 1,
      maxDelayMs: batching ? (opts.maxDelayMs ?? 2) : 0,
      maxQueue: opts.maxQueue ?? 256,
      timeoutMs: opts.timeoutMs ?? 30_000,
    },
  });
  const maxBody = opts.maxBodyBytes ?? 16 << 20;
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  let closing = false;
  const started = Date.now();

  const server = httpServer((req, res) => {
    handle(req, res).catch((err) => sendError(res, err));
  });
  server.keepAliveTimeout = 5000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return sendJson(res, closing ? 503 : 200, { status: closing ? 'shutting down' : 'ok', uptimeS: (Date.now() - started) / 1000 });
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return void res.end(metricsText(pool, eld));
    }
    const route = { '/v1/classify': 'classify', '/v1/embed': 'embed', '/v1/features': 'features' }[url.pathname];
    if (!route) throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
    if (req.method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${url.pathname} takes POST`);
    if (closing) throw new VitError('VIT_E_CLOSED', 'the server is shutting down');
    const body = await readBody(req, maxBody);
    if (body.length === 0) throw new HttpError(400, 'EMPTY_BODY', 'send the image bytes as the request body');
    // A client that goes away cancels its request (it leaves the queue if it has not run yet).
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client disconnected'));
    });
    const signal = ac.signal;
    if (route === 'classify') {
      const topK = intParam(url, 'topK', 5);
      const predictions = await pool.classify(body, { topK, signal });
      return sendJson(res, 200, { predictions });
    }
    if (route === 'embed') {
      const e = await pool.embed(body, { signal });
      return sendJson(res, 200, { dim: e.shape[1], embedding: Array.from(e.data) });
    }
    const oi = url.searchParams.get('outIndices');
    const outIndices = oi === null ? undefined : oi.includes(',') || oi.startsWith('[') ? oi.replace(/[[\]]/g, '').split(',').map(Number) : Number(oi);
    const format = (url.searchParams.get('format') ?? 'NCHW').toUpperCase();
    if (format !== 'NCHW' && format !== 'NLC') throw new HttpError(400, 'BAD_PARAM', 'format is NCHW or NLC');
    const norm = ['1', 'true'].includes(url.searchParams.get('norm') ?? '');
    const maps = await pool.features(body, { outIndices, format, norm, signal });
    const member = pool.members[0].model;
    return sendJson(res, 200, {
      featureInfo: member.featureInfoFor(outIndices ?? member.featureIndices),
      features: maps.map((m) => ({ shape: m.shape, data: Array.from(m.data) })),
    });
  }

  await new Promise<void>((resolve) => server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    server,
    pool,
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await pool.close();
      // Connections that were busy at close() are idle now: let them go instead of waiting out keep-alive.
      server.closeIdleConnections();
      eld.disable();
      await stopped;
    },
  };
}

function intParam(url: URL, name: string, dflt: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, 'BAD_PARAM', `${name} must be a positive integer`);
  return n;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        reject(new HttpError(413, 'BODY_TOO_LARGE', `body over ${max} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
  const e = err as VitError;
  if (e?.code === 'VIT_E_ABORTED') return; // the client is gone
  const status = STATUS[e?.code] ?? 500;
  sendJson(res, status, { error: { code: e?.code ?? 'INTERNAL', message: e?.message ?? String(err) } }, status === 429 ? { 'retry-after': '1' } : {});
}

const ELD_RESOLUTION_MS = 10;
let lastElu: EventLoopUtilization = performance.eventLoopUtilization();

/** Prometheus text: the pool's batchers, the process, the event loop (since the last scrape), native objects. */
export function metricsText(pool: ModelPool, eld: IntervalHistogram): string {
  const p = pool.prometheus(new PromText());
  const mem = process.memoryUsage();
  p.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss);
  p.gauge('nodejs_heap_used_bytes', 'V8 heap in use.', mem.heapUsed);
  p.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JS (Buffers, typed arrays).', mem.external + mem.arrayBuffers);
  // Event-loop delay percentiles since the previous scrape (the histogram resets on each one, as prom-client's).
  // monitorEventLoopDelay records the time between its timer's callbacks, i.e. the sampling interval plus the
  // delay: the interval is subtracted here, so an idle loop reads ~0 (prom-client reports the raw values).
  const delay = (ns: number) => (eld.count ? Math.max(0, ns - ELD_RESOLUTION_MS * 1e6) : 0) / 1e9;
  for (const [q, v] of [['0.5', eld.percentile(50)], ['0.99', eld.percentile(99)]] as const) {
    p.gauge('nodejs_eventloop_delay_seconds', 'Event-loop delay since the last scrape (perf_hooks.monitorEventLoopDelay, sampling interval removed).', delay(v), { quantile: q });
  }
  p.gauge('nodejs_eventloop_delay_max_seconds', 'Largest event-loop delay since the last scrape.', delay(eld.max));
  eld.reset();
  const now = performance.eventLoopUtilization();
  p.gauge('nodejs_eventloop_utilization', 'Fraction of time the event loop was busy since the last scrape.', performance.eventLoopUtilization(now, lastElu).utilization);
  lastElu = now;
  const ns = nativeStats();
  p.gauge('vitnode_native_weight_stores', 'Live native weight stores.', ns.weightStores);
  p.gauge('vitnode_native_weight_bytes', 'Float32 bytes held by live weight stores.', ns.weightBytes);
  p.gauge('vitnode_native_programs', 'Live compiled programs (one per model, input shape and output set).', ns.programs);
  p.gauge('vitnode_native_arena_bytes', 'Planned activation arena bytes of live programs.', ns.arenaBytes);
  return p.toString();
}
