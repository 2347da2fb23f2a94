// Dynamic batching (Triton's dynamic batcher): concurrent single-image / single-tensor requests wait up to
// `maxDelayMs` in a bounded queue and run together as one forward of up to `maxBatchSize`. Requests only merge
// with requests that need the same forward (same output, same input shape, same feature options).
//
// Backpressure: a full queue refuses new requests at once with VIT_E_OVERLOADED (cheap to shed: nothing is
// decoded). Cancellation: an AbortSignal or a per-request timeout settles the request at once (VIT_E_ABORTED /
// VIT_E_TIMEOUT); a queued request leaves the queue, a request whose batch is already running is answered with the
// error and its row is dropped. close() stops admitting (VIT_E_CLOSED) and drains what was admitted.
import { VitError } from '../errors.ts';
import { modelDataConfig, topK, type Prediction } from '../image-api.ts';
import { labelsFor, type ClassLabel } from '../labels/index.ts';
import type { VitModel } from '../model.ts';
import { preprocessSettled, type DataConfig, type ImageInput, type PreprocessOptions } from '../preprocess/index.ts';
import { Tensor } from '../tensor.ts';
import { Window, type BatcherMetrics } from './metrics.ts';
import { batchClassifyOptionsSchema, batcherOptionsSchema, batchFeaturesOptionsSchema, parseOptions, requestOptionsSchema } from '../options.ts';

export interface BatcherOptions {
  /** Most requests in one forward (default 8). */
  maxBatchSize?: number;
  /** How long the oldest queued request may wait for company before its batch runs anyway (default 2 ms). */
  maxDelayMs?: number;
  /** Most admitted requests not yet running (preprocessing + queued); past it requests are refused (default 256). */
  maxQueue?: number;
  /** Default per-request timeout in ms, admission to answer (default: none). */
  timeoutMs?: number;
  /** Batches in flight at once (default 1: CPU runs are serialised per process anyway; 2 can help a GPU). */
  maxInflightBatches?: number;
  /** Decode / preprocess options for image requests (data config overrides, pixel limits). */
  preprocess?: PreprocessOptions;
  /** Latency samples kept for percentiles (default 4096). */
  window?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the batcher's timeoutMs for this request (0: none). */
  timeoutMs?: number;
}

export interface BatchFeaturesOptions extends RequestOptions {
  outIndices?: number | number[];
  norm?: boolean;
  format?: 'NCHW' | 'NLC';
}

type Exec = (x: Tensor) => Promise<Tensor[]>;

interface Job {
  key: string;
  shape: number[];
  data: Float32Array | null;
  exec: Exec;
  finish: (outs: Tensor[], row: number) => unknown;
  admittedAt: number;
  readyAt: number;
  settled: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

export class Batcher {
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  readonly maxInflightBatches: number;
  private queue: Job[] = [];
  private keyCounts = new Map<string, number>();
  private preprocessing = 0;
  private running = 0;
  private inflight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private dropQueued = false;
  private idleWaiters: (() => void)[] = [];
  private dc: DataConfig | null = null;
  private labels: Promise<ClassLabel[]> | null = null;
  private labelList: ClassLabel[] = [];
  private counts = { total: 0, ok: 0, failed: 0, rejected: 0, aborted: 0, timedOut: 0 };
  private batches = 0;
  private batchSizes: number[];
  private latency: Window;
  private queueWait: Window;
  private batchRun: Window;

  constructor(readonly model: VitModel, private opts: BatcherOptions = {}) {
    parseOptions(batcherOptionsSchema, opts, 'batcher options');
    const int = (v: number | undefined, d: number, min: number, name: string) => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < min) throw new VitError('VIT_E_ARGUMENT', `${name} must be an integer >= ${min}, got ${v}`);
      return x;
    };
    this.maxBatchSize = int(opts.maxBatchSize, 8, 1, 'maxBatchSize');
    this.maxQueue = int(opts.maxQueue, 256, 1, 'maxQueue');
    this.maxInflightBatches = int(opts.maxInflightBatches, 1, 1, 'maxInflightBatches');
    this.maxDelayMs = opts.maxDelayMs ?? 2;
    this.timeoutMs = opts.timeoutMs ?? 0;
    if (!(this.maxDelayMs >= 0)) throw new VitError('VIT_E_ARGUMENT', `maxDelayMs must be >= 0, got ${opts.maxDelayMs}`);
    if (!(this.timeoutMs >= 0)) throw new VitError('VIT_E_ARGUMENT', `timeoutMs must be >= 0, got ${opts.timeoutMs}`);
    this.batchSizes = new Array(this.maxBatchSize + 1).fill(0);
    this.latency = new Window(opts.window ?? 4096);
    this.queueWait = new Window(opts.window ?? 4096);
    this.batchRun = new Window(opts.window ?? 4096);
  }

  /** Logits [1, numClasses] of one image tensor ([1, C, H, W] or [C, H, W]), run in a batch with others. */
  forward(x: Tensor, opts: RequestOptions = {}): Promise<Tensor> {
    const bad = optionsError(requestOptionsSchema, opts, 'forward options');
    if (bad) return bad;
    return this.tensorRequest(x, 'logits', (t) => this.model.forward(t).then((y) => [y]), (outs, r) => row(outs[0], r), opts) as Promise<Tensor>;
  }

  /** Top-k predictions of one image (path, encoded Buffer or raw pixels). */
  classify(image: ImageInput, opts: RequestOptions & { topK?: number } = {}): Promise<Prediction[]> {
    const bad = optionsError(batchClassifyOptionsSchema, opts, 'classify options');
    if (bad) return bad;
    const k = opts.topK ?? 5;
    if (!Number.isInteger(k) || k < 1) return Promise.reject(new VitError('VIT_E_ARGUMENT', `topK must be a positive integer, got ${k}`));
    if (this.model.numClasses === 0) return Promise.reject(new VitError('VIT_E_UNSUPPORTED', `${this.model.name} has no classifier (numClasses 0); use embed()`));
    this.labels ??= labelsFor(this.model.pretrainedCfg, this.model.numClasses).then((l) => (this.labelList = l));
    const labels = this.labels;
    return this.imageRequest(
      image,
      'logits',
      // Only the first request's exec runs for a batch, so the labels live on the batcher, not in a closure.
      async (t) => {
        await labels;
        return [await this.model.forward(t)];
      },
      (outs, r) => {
        const C = outs[0].shape[1];
        return topK(outs[0].data.subarray(r * C, (r + 1) * C), Math.min(k, C), this.labelList);
      },
      opts,
    ) as Promise<Prediction[]>;
  }

  /** Pre-logits embedding [1, numFeatures] of one image. */
  embed(image: ImageInput, opts: RequestOptions = {}): Promise<Tensor> {
    const bad = optionsError(requestOptionsSchema, opts, 'embed options');
    if (bad) return bad;
    return this.imageRequest(
      image,
      'pre_logits',
      async (t) => [(await this.model.run(t, { outputs: ['pre_logits'] })).pre_logits as Tensor],
      (outs, r) => row(outs[0], r),
      opts,
    ) as Promise<Tensor>;
  }

  /** Block feature maps of one image: one tensor per block, each with batch 1. */
  features(image: ImageInput, opts: BatchFeaturesOptions = {}): Promise<Tensor[]> {
    const bad = optionsError(batchFeaturesOptionsSchema, opts, 'features options');
    if (bad) return bad;
    const indices = opts.outIndices ?? this.model.featureIndices;
    const norm = opts.norm ?? false;
    const fmt = opts.format ?? 'NCHW';
    try {
      this.model.featureInfoFor(indices); // validates the indices now, not inside a shared batch
    } catch (err) {
      return Promise.reject(err);
    }
    return this.imageRequest(
      image,
      `features|${JSON.stringify(indices)}|${norm}|${fmt}`,
      async (t) => (await this.model.forwardIntermediates(t, { indices, norm, outputFmt: fmt, intermediatesOnly: true })) as Tensor[],
      (outs, r) => outs.map((o) => row(o, r)),
      opts,
    ) as Promise<Tensor[]>;
  }

  /** Queue depth, batch sizes, latency percentiles. */
  metrics(): BatcherMetrics {
    return {
      queueDepth: this.preprocessing + this.queue.length,
      inflight: this.inflight,
      runningBatches: this.running,
      requests: { ...this.counts },
      batches: this.batches,
      batchSizes: [...this.batchSizes],
      latencyMs: this.latency.summary(),
      queueWaitMs: this.queueWait.summary(),
      batchRunMs: this.batchRun.summary(),
    };
  }

  /** Requests admitted and not finished (queued, preprocessing or running). */
  get pending(): number {
    return this.preprocessing + this.queue.length + this.inflight;
  }

  get closed(): boolean {
    return this.closing;
  }

  /**
   * Stops admitting (new requests reject with VIT_E_CLOSED). drain (default): what was admitted still runs, without
   * waiting for maxDelayMs; otherwise queued requests reject with VIT_E_CLOSED and only running batches finish.
   * Resolves when nothing is pending. The model is not disposed (it is the caller's).
   */
  close(opts: { drain?: boolean } = {}): Promise<void> {
    this.closing = true;
    if (opts.drain === false) {
      this.dropQueued = true;
      for (const j of this.queue.splice(0)) this.settle(j, new VitError('VIT_E_CLOSED', 'the batcher was closed before this request ran'), 'failed');
      this.keyCounts.clear();
    }
    this.schedule();
    return this.whenIdle();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
  private checkIdle(): void {
    if (this.pending !== 0 || this.idleWaiters.length === 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private tensorRequest(x: Tensor, kind: string, exec: Exec, finish: Job['finish'], opts: RequestOptions): Promise<unknown> {
    if (!(x instanceof Tensor)) return Promise.reject(new VitError('VIT_E_ARGUMENT', 'input must be a Tensor'));
    const s = x.shape;
    const shape = s.length === 4 && s[0] === 1 ? s.slice(1) : s.length === 3 ? [...s] : null;
    if (!shape) return Promise.reject(new VitError('VIT_E_SHAPE', `a batcher request is one image: [1, C, H, W] or [C, H, W], got [${s.join(', ')}]`));
    const cfg = this.model.config;
    if (shape[0] !== cfg.inChans) return Promise.reject(new VitError('VIT_E_SHAPE', `model expects ${cfg.inChans} input channels, got ${shape[0]}`));
    if (!cfg.dynamicImgSize && (shape[1] !== cfg.imgSize[0] || shape[2] !== cfg.imgSize[1])) {
      return Promise.reject(new VitError('VIT_E_SHAPE', `model expects ${cfg.imgSize[0]}x${cfg.imgSize[1]} images, got ${shape[1]}x${shape[2]}`));
    }
    return this.admit(kind, exec, finish, opts, async () => ({ data: x.data, shape }));
  }

  private imageRequest(image: ImageInput, kind: string, exec: Exec, finish: Job['finish'], opts: RequestOptions): Promise<unknown> {
    return this.admit(kind, exec, finish, opts, async () => {
      this.dc ??= modelDataConfig(this.model, this.opts.preprocess);
      const [r] = await preprocessSettled([image], this.dc, { ...this.opts.preprocess, concurrency: 1 });
      if (!r.ok) {
        r.error.index = -1;
        throw r.error;
      }
      return { data: r.data, shape: [...this.dc.inputSize] };
    });
  }

  private admit(kind: string, exec: Exec, finish: Job['finish'], opts: RequestOptions, prepare: () => Promise<{ data: Float32Array; shape: number[] }>): Promise<unknown> {
    if (this.closing) return Promise.reject(new VitError('VIT_E_CLOSED', 'the batcher is closed'));
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.preprocessing + this.queue.length >= this.maxQueue) {
      this.counts.rejected++;
      return Promise.reject(new VitError('VIT_E_OVERLOADED', `queue full (${this.maxQueue} requests waiting): retry later`));
    }
    this.counts.total++;
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
      let timer: NodeJS.Timeout | null = null;
      const onAbort = () => this.settle(job, abortError(signal!), 'aborted');
      const job: Job = {
        key: '',
        shape: [],
        data: null,
        exec,
        finish,
        admittedAt: performance.now(),
        readyAt: 0,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => this.settle(job, new VitError('VIT_E_TIMEOUT', `request timed out after ${timeoutMs} ms`), 'timedOut'), timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.preprocessing++;
      prepare().then(
        ({ data, shape }) => {
          this.preprocessing--;
          if (this.dropQueued) this.settle(job, new VitError('VIT_E_CLOSED', 'the batcher was closed before this request ran'), 'failed');
          if (job.settled) {
            this.schedule();
            return this.checkIdle();
          }
          job.data = data;
          job.shape = shape;
          job.key = `${kind}|${shape.join('x')}`;
          job.readyAt = performance.now();
          this.queue.push(job);
          this.keyCounts.set(job.key, (this.keyCounts.get(job.key) ?? 0) + 1);
          this.schedule();
        },
        (err) => {
          this.preprocessing--;
          this.settle(job, err, 'failed');
          this.schedule();
        },
      );
    });
  }

  /** Settles a request once; a queued request leaves the queue. */
  private settle(job: Job, err: unknown, outcome: 'failed' | 'aborted' | 'timedOut'): void;
  private settle(job: Job, value: unknown, outcome: 'ok'): void;
  private settle(job: Job, v: unknown, outcome: 'ok' | 'failed' | 'aborted' | 'timedOut'): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup();
    this.counts[outcome]++;
    if (outcome === 'ok') {
      this.latency.push(performance.now() - job.admittedAt);
      job.resolve(v);
    } else {
      const i = job.data ? this.queue.indexOf(job) : -1;
      if (i >= 0) {
        this.queue.splice(i, 1);
        this.decKey(job.key, 1);
      }
      job.reject(v);
    }
    job.data = null;
    this.checkIdle();
  }

  private decKey(key: string, n: number): void {
    const c = (this.keyCounts.get(key) ?? 0) - n;
    if (c > 0) this.keyCounts.set(key, c);
    else this.keyCounts.delete(key);
  }

  private schedule(): void {
    while (this.queue.length && this.running < this.maxInflightBatches) {
      const head = this.queue[0];
      const waited = performance.now() - head.readyAt;
      const full = (this.keyCounts.get(head.key) ?? 0) >= this.maxBatchSize;
      // Draining: no waiting for company, except for requests still being preprocessed (they come next).
      if (!(full || waited >= this.maxDelayMs || (this.closing && this.preprocessing === 0))) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.schedule();
          }, Math.max(0, this.maxDelayMs - waited));
        }
        return;
      }
      this.dispatch();
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const key = this.queue[0].key;
    const jobs: Job[] = [];
    const rest: Job[] = [];
    for (const j of this.queue) (j.key === key && jobs.length < this.maxBatchSize ? jobs : rest).push(j);
    this.queue = rest;
    this.decKey(key, jobs.length);
    const n = jobs.length;
    const [C, H, W] = jobs[0].shape;
    const per = C * H * W;
    const data = new Float32Array(n * per);
    const t0 = performance.now();
    jobs.forEach((j, i) => {
      data.set(j.data!, i * per);
      j.data = null;
      this.queueWait.push(t0 - j.readyAt);
    });
    this.running++;
    this.inflight += n;
    this.batches++;
    this.batchSizes[n]++;
    let p: Promise<Tensor[]>;
    try {
      p = jobs[0].exec(new Tensor(data, [n, C, H, W]));
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (outs) => {
        jobs.forEach((j, r) => {
          if (j.settled) return;
          let v: unknown;
          try {
            v = j.finish(outs, r);
          } catch (err) {
            return this.settle(j, err, 'failed');
          }
          this.settle(j, v, 'ok');
        });
      },
      (err) => jobs.forEach((j) => this.settle(j, err, 'failed')),
    ).finally(() => {
      this.batchRun.push(performance.now() - t0);
      this.running--;
      this.inflight -= n;
      this.schedule();
      this.checkIdle();
    });
  }
}

/** A dynamic batcher over one model (see Batcher). */
/** Bad request options as a rejected Promise (the request methods never throw synchronously). */
function optionsError(schema: Parameters<typeof parseOptions>[0], opts: unknown, what: string): Promise<never> | undefined {
  try {
    parseOptions(schema, opts, what);
    return undefined;
  } catch (err) {
    return Promise.reject(err);
  }
}

export function createBatcher(model: VitModel, opts: BatcherOptions = {}): Batcher {
  return new Batcher(model, opts);
}

/** Row r of a batched output, as its own [1, ...] tensor (a copy, so the batch buffer can be freed). */
function row(t: Tensor, r: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(t.data.slice(r * per, (r + 1) * per), [1, ...t.shape.slice(1)]);
}

function abortError(signal: AbortSignal): VitError {
  const reason = signal.reason as { message?: string } | undefined;
  return new VitError('VIT_E_ABORTED', `request aborted${reason?.message ? `: ${reason.message}` : ''}`, { cause: signal.reason });
}
