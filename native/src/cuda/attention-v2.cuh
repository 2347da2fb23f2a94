// The second fused attention kernel (float16 / bfloat16, sm_80+, head_dim 32/64/96/128): K and V of one
// (batch, head) stay in shared memory for all its query rows. See attention-v2.cu.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/context.h"
#include "vit/program.h"

namespace vit::cuda {

struct FlashV2Launch {
  int warps = 0;             // per block (4 or 8); 0: v2 does not fit this shape here, use v1
  int chunks = 0;            // query chunks per (batch, head): grid = (batch * heads, chunks)
  int groups_per_chunk = 0;  // 16-row query groups per block
  size_t smem = 0;           // dynamic shared memory per block
};

// Picks the launch shape at program build (sets the kernels' shared-memory attributes on the current device).
FlashV2Launch flash_v2_plan(const DeviceContext& ctx, DType dt, int b, int t, int q, int heads, int hd);

// qkv[b, t, 3d] -> out[b, q, d]: rows 0..q-1 of the attention output. `L` from flash_v2_plan (warps > 0).
void flash_v2_cuda(DType dt, const FlashV2Launch& L, const void* qkv, void* out, int b, int t, int q, int d, int heads,
                   float scale, cudaStream_t s);

}  // namespace vit::cuda
