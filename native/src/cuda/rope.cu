// Rotary position embedding (timm eva.py apply_rot_embed_cat): x[B, T, W] -> y, the first `sections` column blocks
// of heads*hd rotated per head for tokens t >= start, y = x*cos + rot(x)*sin with table[Ht, T - start, 2*hd] =
// [sin | cos]; rot interleaved ((x0, x1) -> (-x1, x0)) or rotate_half. One thread per output element, float32 math.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

// ---- kernel ----

template <typename T, bool HALF>
__global__ void rope_kernel(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ table, int64_t total,
                            int64_t width, int64_t tokens, int64_t start, int64_t rotated, int64_t d, int hd,
                            int table_heads) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / width, c = i % width, t = row % tokens;
    const float v = to_f<T>(x[i]);
    if (t < start || c >= rotated) {
      y[i] = x[i];
      continue;
    }
    const int64_t hc = c % d;
    const int h = static_cast<int>(hc / hd), j = static_cast<int>(hc % hd);
    const T* sn = table + ((table_heads == 1 ? 0 : h) * (tokens - start) + (t - start)) * 2 * hd;
    float r;
    if (HALF) {
      const int half = hd / 2;
      r = j < half ? -to_f<T>(x[i + half]) : to_f<T>(x[i - half]);
    } else {
      r = (j & 1) ? to_f<T>(x[i - 1]) : -to_f<T>(x[i + 1]);
    }
    y[i] = from_f<T>(v * to_f<T>(sn[hd + j]) + r * to_f<T>(sn[j]));
  }
}

// ---- launcher ----

template <typename T>
void rope_cuda(const T* x, T* y, const T* table, int64_t rows, int64_t width, int64_t tokens, int64_t start,
               int64_t rotated, int64_t d, int hd, int table_heads, bool half, cudaStream_t s) {
  const int64_t total = rows * width;
  if (half)
    rope_kernel<T, true><<<grid_for(total, 256), 256, 0, s>>>(x, y, table, total, width, tokens, start, rotated, d, hd,
                                                              table_heads);
  else
    rope_kernel<T, false><<<grid_for(total, 256), 256, 0, s>>>(x, y, table, total, width, tokens, start, rotated, d,
                                                               hd, table_heads);
  VIT_CUDA_LAUNCH_CHECK();
}

// ---- op entry ----

StepFn op_rope(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ts = env.store->shape(*n.weight("table"));
  VIT_CHECK(xs.size() == 3 && ts.size() == 3, Shape, node_label(n) + ": expects x[B,T,W] and table[Ht,N,2hd]");
  const int64_t width = xs[2], tokens = xs[1], rows = xs[0] * xs[1];
  const int hd = static_cast<int>(ts[2] / 2), table_heads = static_cast<int>(ts[0]);
  const int64_t d = int64_t(n.iattr("heads")) * hd, rotated = n.iattr("sections") * d, start = n.iattr("start");
  const bool half = n.iattr("half") != 0;
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const void* table = env.weight(n, "table");
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, rope_cuda<T>(static_cast<const T*>(x), static_cast<T*>(y), static_cast<const T*>(table),
                                        rows, width, tokens, start, rotated, d, hd, table_heads, half, s));
  };
}

}  // namespace vit::cuda
