// Host side of the CUDA executor's transfers: a small process-wide thread pool and the float32 <-> model
// dtype conversions that run on it, so a batch is converted straight into (or out of) pinned staging memory
// by several cores instead of being memcpy'd by one thread and converted on the device. 16-bit dtypes cross
// PCIe at half the bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "vit/program.h"

namespace vit::cuda {

// Workers started on first use: VITNODE_HOST_THREADS, else min(hardware threads, 16), counting the caller.
// parallel() runs fn(i) for i in [0, tasks) on the workers and the calling thread and returns when all are
// done. Concurrent callers are served one after another (each call is short: one chunk of a batch).
// fn must not throw.
int host_threads();
void host_parallel(int tasks, const std::function<void(int)>& fn);

// float32 -> dtype (round to nearest even, NaN stays NaN, overflow to inf; as __float2half_rn /
// __float2bfloat16_rn) and back. float32 -> float32 is a copy. Single-threaded; see convert_*_parallel.
void host_from_f32(const float* src, void* dst, size_t n, DType dtype);
void host_to_f32(const void* src, float* dst, size_t n, DType dtype);
// The same split over the pool (tasks of at least `grain` elements; small n stays on the calling thread).
void host_from_f32_parallel(const float* src, void* dst, size_t n, DType dtype);
void host_to_f32_parallel(const void* src, float* dst, size_t n, DType dtype);

}  // namespace vit::cuda
