// Several model instances behind one front: one model + one dynamic batcher per instance, requests routed to the
// instance with the fewest pending requests. Instances are placed on a device list (['cuda:0', 'cuda:1'] for one
// per GPU) and share one CPU thread budget.
//
// CPU thread budget: the native CPU executor runs one inference at a time per process (two OpenMP-parallel runs
// would oversubscribe the cores; docs/design.md §2a), so CPU instances in one process never compute at the same
// time and each may use the whole budget. More CPU throughput comes from batching, or from more processes with
// `threads = cores / processes` each (docs/operations.md). GPU instances take one host thread each for their
// small CPU-side work.
import { availableParallelism } from 'node:os';
import { createModel, type ModelSource } from '../create-model.ts';
import { VitError } from '../errors.ts';
import type { Prediction } from '../image-api.ts';
import type { VitModel } from '../model.ts';
import type { CreateModelOptions } from '../options.ts';
import type { ImageInput } from '../preprocess/index.ts';
import type { Tensor } from '../tensor.ts';
import { Batcher, type BatcherOptions, type BatchFeaturesOptions, type RequestOptions } from './batcher.ts';
import { batcherPrometheus, PromText, type BatcherMetrics } from './metrics.ts';
import { parseOptions, poolOptionsSchema } from '../options.ts';

export interface PoolOptions {
  /** Devices to place instances on, e.g. ['cpu'], ['cuda:0', 'cuda:1'] (default ['cpu']). */
  devices?: string[];
  /** Instances per device (default 1). */
  instancesPerDevice?: number;
  /** CPU threads for the whole process (default: all cores). */
  threads?: number;
  /** createModel options for every instance (device and threads are set by the pool). */
  model?: Omit<CreateModelOptions, 'device' | 'threads'>;
  /** Batcher options for every instance. */
  batcher?: BatcherOptions;
}

export interface PoolMember {
  device: string;
  model: VitModel;
  batcher: Batcher;
}

/** Threads per CPU instance for a process budget (runs are serialised per process: each gets the whole budget). */
export function cpuThreadsPerInstance(budget: number, _instances: number): number {
  return Math.max(1, Math.floor(budget));
}

export class ModelPool {
  private rr = 0;
  constructor(readonly members: PoolMember[]) {
    if (members.length === 0) throw new VitError('VIT_E_ARGUMENT', 'a pool needs at least one instance');
  }

  /** The instance with the fewest pending requests (round-robin among equals). */
  pick(): PoolMember {
    const n = this.members.length;
    let best = this.members[this.rr % n];
    for (let i = 1; i < n; i++) {
      const m = this.members[(this.rr + i) % n];
      if (m.batcher.pending < best.batcher.pending) best = m;
    }
    this.rr = (this.rr + 1) % n;
    return best;
  }

  forward(x: Tensor, opts?: RequestOptions): Promise<Tensor> {
    return this.pick().batcher.forward(x, opts);
  }
  classify(image: ImageInput, opts?: RequestOptions & { topK?: number }): Promise<Prediction[]> {
    return this.pick().batcher.classify(image, opts);
  }
  embed(image: ImageInput, opts?: RequestOptions): Promise<Tensor> {
    return this.pick().batcher.embed(image, opts);
  }
  features(image: ImageInput, opts?: BatchFeaturesOptions): Promise<Tensor[]> {
    return this.pick().batcher.features(image, opts);
  }

  metrics(): { device: string; metrics: BatcherMetrics }[] {
    return this.members.map((m) => ({ device: m.device, metrics: m.batcher.metrics() }));
  }

  /** Prometheus text for every instance (label `instance="<i>"`, `device`). */
  prometheus(p = new PromText()): PromText {
    this.members.forEach((m, i) => batcherPrometheus(p, m.batcher.metrics(), { instance: String(i), device: m.device }));
    return p;
  }

  /** Drains every batcher, then disposes the models. */
  async close(opts: { drain?: boolean } = {}): Promise<void> {
    await Promise.all(this.members.map((m) => m.batcher.close(opts)));
    for (const m of this.members) m.model.dispose();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates `instancesPerDevice` models on each device, each behind its own batcher. */
export async function createPool(source: ModelSource, opts: PoolOptions = {}): Promise<ModelPool> {
  parseOptions(poolOptionsSchema, opts, 'createPool options');
  const devices = opts.devices ?? ['cpu'];
  const per = opts.instancesPerDevice ?? 1;
  if (!Array.isArray(devices) || devices.length === 0) throw new VitError('VIT_E_ARGUMENT', 'devices must be a non-empty list');
  if (!Number.isInteger(per) || per < 1) throw new VitError('VIT_E_ARGUMENT', 'instancesPerDevice must be an integer >= 1');
  const budget = opts.threads ?? availableParallelism();
  const cpuInstances = devices.filter((d) => d === 'cpu').length * per;
  const members: PoolMember[] = [];
  try {
    for (const device of devices) {
      for (let i = 0; i < per; i++) {
        const threads = device === 'cpu' ? cpuThreadsPerInstance(budget, cpuInstances) : 1;
        const model = await createModel(source, { ...opts.model, device, threads });
        members.push({ device, model, batcher: new Batcher(model, opts.batcher) });
      }
    }
  } catch (err) {
    for (const m of members) m.model.dispose();
    throw err;
  }
  return new ModelPool(members);
}
