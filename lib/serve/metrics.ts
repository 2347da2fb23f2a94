// Serving metrics: a sliding window of latencies (percentiles), counters, a batch-size histogram, and a
// Prometheus text exposition of all of it.

/** The last `capacity` samples, for percentiles that follow the current load (not the whole process life). */
export class Window {
  private buf: Float64Array;
  private n = 0;
  private next = 0;
  constructor(capacity = 4096) {
    this.buf = new Float64Array(capacity);
  }
  push(v: number): void {
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }
  get count(): number {
    return this.n;
  }
  /** Nearest-rank percentiles of the window (NaN when empty). */
  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
    const s = this.buf.slice(0, this.n).sort();
    const q = (p: number) => s[Math.min(this.n - 1, Math.max(0, Math.ceil(p * this.n) - 1))];
    let sum = 0;
    for (const v of s) sum += v;
    return { count: this.n, mean: sum / this.n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[this.n - 1] };
  }
  clear(): void {
    this.n = 0;
    this.next = 0;
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BatcherMetrics {
  /** Requests admitted and not yet in a running batch (preprocessing + waiting). */
  queueDepth: number;
  /** Requests inside batches that are running now. */
  inflight: number;
  /** Batches running now. */
  runningBatches: number;
  requests: {
    /** Admitted requests. */
    total: number;
    ok: number;
    /** Failed in preprocessing or in the forward. */
    failed: number;
    /** Refused at the door: queue full (VIT_E_OVERLOADED). */
    rejected: number;
    aborted: number;
    timedOut: number;
  };
  batches: number;
  /** batchSizes[n] = batches of exactly n requests (index 0 unused). */
  batchSizes: number[];
  /** Request latency, admission to answer (ms), over the last window of requests. */
  latencyMs: LatencySummary;
  /** Time from admission (after preprocessing) to the start of its batch (ms). */
  queueWaitMs: LatencySummary;
  /** Forward time of each batch (ms). */
  batchRunMs: LatencySummary;
}

type Labels = Record<string, string>;

function labelText(l: Labels): string {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',')}}` : '';
}

/** Prometheus text format builder (HELP/TYPE once per family). */
export class PromText {
  private lines: string[] = [];
  private seen = new Set<string>();
  private family(name: string, type: string, help: string): void {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  gauge(name: string, help: string, value: number, labels: Labels = {}): this {
    this.family(name, 'gauge', help);
    this.lines.push(`${name}${labelText(labels)} ${fmt(value)}`);
    return this;
  }
  counter(name: string, help: string, value: number, labels: Labels = {}): this {
    this.family(name, 'counter', help);
    this.lines.push(`${name}${labelText(labels)} ${fmt(value)}`);
    return this;
  }
  /** A summary from a window, in seconds. */
  summary(name: string, help: string, s: LatencySummary, labels: Labels = {}, scale = 1e-3): this {
    this.family(name, 'summary', help);
    for (const [q, v] of [['0.5', s.p50], ['0.9', s.p90], ['0.99', s.p99]] as const) {
      this.lines.push(`${name}${labelText({ ...labels, quantile: q })} ${fmt(v * scale)}`);
    }
    this.lines.push(`${name}_count${labelText(labels)} ${s.count}`);
    this.lines.push(`${name}_sum${labelText(labels)} ${fmt(s.count ? s.mean * s.count * scale : 0)}`);
    return this;
  }
  /** A cumulative histogram from exact counts per integer value (e.g. batch sizes). */
  histogram(name: string, help: string, countsByValue: number[], labels: Labels = {}): this {
    this.family(name, 'histogram', help);
    let cum = 0;
    let sum = 0;
    for (let v = 1; v < countsByValue.length; v++) {
      cum += countsByValue[v] ?? 0;
      sum += v * (countsByValue[v] ?? 0);
      this.lines.push(`${name}_bucket${labelText({ ...labels, le: String(v) })} ${cum}`);
    }
    this.lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${cum}`);
    this.lines.push(`${name}_count${labelText(labels)} ${cum}`);
    this.lines.push(`${name}_sum${labelText(labels)} ${sum}`);
    return this;
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Adds one batcher's metrics to a Prometheus text (names prefixed `vitnode_`). */
export function batcherPrometheus(p: PromText, m: BatcherMetrics, labels: Labels = {}): PromText {
  p.gauge('vitnode_queue_depth', 'Requests admitted and waiting for a batch (autoscale on this).', m.queueDepth, labels);
  p.gauge('vitnode_inflight_requests', 'Requests inside running batches.', m.inflight, labels);
  p.counter('vitnode_requests_total', 'Admitted requests.', m.requests.total, labels);
  for (const [outcome, v] of Object.entries({ ok: m.requests.ok, failed: m.requests.failed, aborted: m.requests.aborted, timeout: m.requests.timedOut })) {
    p.counter('vitnode_requests_finished_total', 'Finished requests by outcome.', v, { ...labels, outcome });
  }
  p.counter('vitnode_requests_rejected_total', 'Requests refused because the queue was full (VIT_E_OVERLOADED).', m.requests.rejected, labels);
  p.counter('vitnode_batches_total', 'Batches run.', m.batches, labels);
  p.histogram('vitnode_batch_size', 'Requests per batch.', m.batchSizes, labels);
  p.summary('vitnode_request_latency_seconds', 'Admission to answer, over the last window of requests.', m.latencyMs, labels);
  p.summary('vitnode_queue_wait_seconds', 'Wait for a batch, over the last window of requests.', m.queueWaitMs, labels);
  p.summary('vitnode_batch_run_seconds', 'Forward time per batch, over the last window of batches.', m.batchRunMs, labels);
  return p;
}
