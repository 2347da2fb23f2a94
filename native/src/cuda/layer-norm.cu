// The LayerNorm family over the last dim: LayerNorm, timm's RmsNorm (x * rsqrt(mean(x^2) + eps) * weight) and
// head_norm (timm qk_norm: q and k of packed qkv rows normalised per head, v copied). One warp per row (weight /
// bias optional), the row kept in registers (16-byte vector loads) for widths up to 2048 (16-bit) / 1024
// (float32); a three-pass fallback otherwise. Statistics in float32, two-pass (mean, then centred variance) like
// PyTorch.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

template <typename T>
struct Vec {
  static constexpr int N = 16 / sizeof(T);
  uint4 raw;
  __device__ __forceinline__ T& operator[](int i) { return reinterpret_cast<T*>(&raw)[i]; }
};

template <typename T, int VPL, bool RMS>  // VPL 16-byte vectors per lane; RMS: RmsNorm (no mean, no bias)
__global__ void layer_norm_vec_kernel(const T* __restrict__ x, const T* __restrict__ g, const T* __restrict__ b,
                                      T* __restrict__ y, int64_t rows, int d, float eps) {
  constexpr int N = Vec<T>::N;
  const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int nvec = d / N;
  const uint4* xr = reinterpret_cast<const uint4*>(x + row * d);
  float v[VPL][N];
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < VPL; ++i) {
    const int c = lane + i * 32;
    Vec<T> t;
    t.raw = c < nvec ? xr[c] : make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      v[i][j] = c < nvec ? to_f<T>(t[j]) : 0.f;
      sum += v[i][j];
    }
  }
  const float mean = RMS ? 0.f : warp_sum(sum) / d;
  float sq = 0.f;
#pragma unroll
  for (int i = 0; i < VPL; ++i) {
    const int c = lane + i * 32;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float dv = v[i][j] - mean;
      sq += c < nvec ? dv * dv : 0.f;
    }
  }
  const float rstd = rsqrtf(warp_sum(sq) / d + eps);
  const uint4* gr = reinterpret_cast<const uint4*>(g);
  const uint4* br = reinterpret_cast<const uint4*>(b);
  uint4* yr = reinterpret_cast<uint4*>(y + row * d);
#pragma unroll
  for (int i = 0; i < VPL; ++i) {
    const int c = lane + i * 32;
    if (c < nvec) {
      Vec<T> gv, bv, out;
      gv.raw = gr[c];
      if (!RMS) bv.raw = br[c];
#pragma unroll
      for (int j = 0; j < N; ++j)
        out[j] = from_f<T>((v[i][j] - mean) * rstd * to_f<T>(gv[j]) + (RMS ? 0.f : to_f<T>(bv[j])));
      yr[c] = out.raw;
    }
  }
}

// One row of d elements by one warp, three passes; g / b may be null.
template <typename T, bool RMS>
__device__ __forceinline__ void norm_row_warp(const T* __restrict__ xr, const T* __restrict__ g,
                                              const T* __restrict__ b, T* __restrict__ yr, int d, float eps,
                                              int lane) {
  float mean = 0.f;
  if (!RMS) {
    float sum = 0.f;
    for (int j = lane; j < d; j += 32) sum += to_f<T>(xr[j]);
    mean = warp_sum(sum) / d;
  }
  float sq = 0.f;
  for (int j = lane; j < d; j += 32) {
    const float dv = to_f<T>(xr[j]) - mean;
    sq += dv * dv;
  }
  const float rstd = rsqrtf(warp_sum(sq) / d + eps);
  for (int j = lane; j < d; j += 32)
    yr[j] = from_f<T>((to_f<T>(xr[j]) - mean) * rstd * (g ? to_f<T>(g[j]) : 1.f) + (b ? to_f<T>(b[j]) : 0.f));
}

template <typename T, bool RMS>
__global__ void layer_norm_generic_kernel(const T* __restrict__ x, const T* __restrict__ g, const T* __restrict__ b,
                                          T* __restrict__ y, int64_t rows, int d, float eps) {
  const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  norm_row_warp<T, RMS>(x + row * d, g, b, y + row * d, d, eps, threadIdx.x % 32);
}

// Packed qkv rows [tokens, 3d]: warp w handles (token, section, head) = (w / (3 heads), w / heads % 3, w % heads);
// sections 0 (q) and 1 (k) are normalised over hd with their weight / bias, 2 (v) is copied.
template <typename T, bool RMS>
__global__ void head_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ qg,
                                 const T* __restrict__ qb, const T* __restrict__ kg, const T* __restrict__ kb,
                                 int64_t tokens, int d, int heads, float eps) {
  const int64_t w = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (w >= tokens * 3 * heads) return;
  const int h = static_cast<int>(w % heads), sec = static_cast<int>(w / heads % 3), hd = d / heads;
  const int64_t off = (w / (3 * heads)) * 3 * d + sec * d + h * hd;
  if (sec == 2) {
    for (int j = lane; j < hd; j += 32) y[off + j] = x[off + j];
    return;
  }
  norm_row_warp<T, RMS>(x + off, sec == 0 ? qg : kg, sec == 0 ? qb : kb, y + off, hd, eps, lane);
}

template <typename T, bool RMS>
void layer_norm_cuda(const T* x, const T* g, const T* b, T* y, int64_t rows, int d, float eps, cudaStream_t s) {
  constexpr int N = 16 / sizeof(T);
  const unsigned grid = static_cast<unsigned>((rows + 7) / 8);  // 8 warps per block
  const int vpl = (d % N == 0) ? (d / N + 31) / 32 : 0;
  auto aligned = [](const void* p) { return p && (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const bool vec_ok = vpl > 0 && aligned(x) && aligned(g) && (RMS || aligned(b)) && aligned(y);
  switch (vec_ok ? vpl : 0) {
    case 1: layer_norm_vec_kernel<T, 1, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 2: layer_norm_vec_kernel<T, 2, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 3: layer_norm_vec_kernel<T, 3, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 4: layer_norm_vec_kernel<T, 4, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 5: layer_norm_vec_kernel<T, 5, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 6: layer_norm_vec_kernel<T, 6, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 7: case 8: layer_norm_vec_kernel<T, 8, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    default: layer_norm_generic_kernel<T, RMS><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
  }
  VIT_CUDA_LAUNCH_CHECK();
}

template <typename T, bool RMS>
void head_norm_cuda(const T* x, T* y, const T* qg, const T* qb, const T* kg, const T* kb, int64_t tokens, int d,
                    int heads, float eps, cudaStream_t s) {
  const int64_t warps = tokens * 3 * heads;
  head_norm_kernel<T, RMS><<<static_cast<unsigned>((warps + 7) / 8), 256, 0, s>>>(x, y, qg, qb, kg, kb, tokens, d,
                                                                                   heads, eps);
  VIT_CUDA_LAUNCH_CHECK();
}

namespace {
StepFn norm_step(OpEnv& env, const Node& n, bool rms) {
  const auto& ys = env.shape(n.output);
  const int64_t d = ys.back(), rows = numel(ys) / d;
  const void* x = env.tensor(n.inputs[0]);
  const void* g = env.weight(n, "weight");
  const void* b = rms ? nullptr : env.weight(n, "bias");
  void* y = env.tensor(n.output);
  const float eps = static_cast<float>(n.attr("eps"));
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, {
      const T *xt = static_cast<const T*>(x), *gt = static_cast<const T*>(g), *bt = static_cast<const T*>(b);
      if (rms)
        layer_norm_cuda<T, true>(xt, gt, bt, static_cast<T*>(y), rows, static_cast<int>(d), eps, s);
      else
        layer_norm_cuda<T, false>(xt, gt, bt, static_cast<T*>(y), rows, static_cast<int>(d), eps, s);
    });
  };
}
}  // namespace

StepFn op_rms_norm(OpEnv& env, const Node& n) { return norm_step(env, n, true); }

StepFn op_head_norm(OpEnv& env, const Node& n) {
  const auto& ys = env.shape(n.output);
  VIT_CHECK(ys.back() % 3 == 0, Shape, node_label(n) + ": expects packed qkv [.., 3D]");
  const int64_t d = ys.back() / 3, tokens = numel(ys) / ys.back();
  const int heads = n.iattr("heads");
  VIT_CHECK(heads > 0 && d % heads == 0, Shape, node_label(n) + ": D not divisible by heads");
  const bool rms = n.iattr("kind") == 1;
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const void *qg = env.weight(n, "q_weight"), *kg = env.weight(n, "k_weight");
  const void *qb = rms ? nullptr : env.weight(n, "q_bias"), *kb = rms ? nullptr : env.weight(n, "k_bias");
  const float eps = static_cast<float>(n.attr("eps"));
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, {
      const T *xt = static_cast<const T*>(x), *qgt = static_cast<const T*>(qg), *qbt = static_cast<const T*>(qb),
              *kgt = static_cast<const T*>(kg), *kbt = static_cast<const T*>(kb);
      if (rms)
        head_norm_cuda<T, true>(xt, static_cast<T*>(y), qgt, qbt, kgt, kbt, tokens, static_cast<int>(d), heads, eps, s);
      else
        head_norm_cuda<T, false>(xt, static_cast<T*>(y), qgt, qbt, kgt, kbt, tokens, static_cast<int>(d), heads, eps,
                                 s);
    });
  };
}

StepFn op_layer_norm(OpEnv& env, const Node& n) { return norm_step(env, n, false); }

}  // namespace vit::cuda
