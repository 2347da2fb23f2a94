// Serving: dynamic batching, model pools, metrics.
export { Batcher, createBatcher, type BatcherOptions, type BatchFeaturesOptions, type RequestOptions } from './batcher.ts';
export { ModelPool, createPool, cpuThreadsPerInstance, type PoolOptions, type PoolMember } from './pool.ts';
export { PromText, Window, batcherPrometheus, type BatcherMetrics, type LatencySummary } from './metrics.ts';

import { binding, type NativeStats } from '../binding.ts';
export type { NativeStats };
/** Live native objects and bytes in this process (weight stores, programs, planned arenas): leak checks. */
export function nativeStats(): NativeStats {
  return binding.nativeStats();
}
