// LayerNorm over the last dim: one warp per row (weight / bias optional), the row kept in registers (16-byte vector loads) for
// widths up to 2048 (16-bit) / 1024 (float32); a three-pass fallback otherwise. Statistics in float32,
// two-pass (mean, then centred variance) like PyTorch.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

template <typename T>
struct Vec {
  static constexpr int N = 16 / sizeof(T);
  uint4 raw;
  __device__ __forceinline__ T& operator[](int i) { return reinterpret_cast<T*>(&raw)[i]; }
};

template <typename T, int VPL>  // VPL 16-byte vectors per lane
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
  const float mean = warp_sum(sum) / d;
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
      bv.raw = br[c];
#pragma unroll
      for (int j = 0; j < N; ++j) out[j] = from_f<T>((v[i][j] - mean) * rstd * to_f<T>(gv[j]) + to_f<T>(bv[j]));
      yr[c] = out.raw;
    }
  }
}

template <typename T>
__global__ void layer_norm_generic_kernel(const T* __restrict__ x, const T* __restrict__ g, const T* __restrict__ b,
                                          T* __restrict__ y, int64_t rows, int d, float eps) {
  const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const T* xr = x + row * d;
  float sum = 0.f;
  for (int j = lane; j < d; j += 32) sum += to_f<T>(xr[j]);
  const float mean = warp_sum(sum) / d;
  float sq = 0.f;
  for (int j = lane; j < d; j += 32) {
    const float dv = to_f<T>(xr[j]) - mean;
    sq += dv * dv;
  }
  const float rstd = rsqrtf(warp_sum(sq) / d + eps);
  T* yr = y + row * d;
  for (int j = lane; j < d; j += 32)
    yr[j] = from_f<T>((to_f<T>(xr[j]) - mean) * rstd * (g ? to_f<T>(g[j]) : 1.f) + (b ? to_f<T>(b[j]) : 0.f));
}

template <typename T>
void layer_norm_cuda(const T* x, const T* g, const T* b, T* y, int64_t rows, int d, float eps, cudaStream_t s) {
  constexpr int N = 16 / sizeof(T);
  const unsigned grid = static_cast<unsigned>((rows + 7) / 8);  // 8 warps per block
  const int vpl = (d % N == 0) ? (d / N + 31) / 32 : 0;
  auto aligned = [](const void* p) { return p && (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const bool vec_ok = vpl > 0 && aligned(x) && aligned(g) && aligned(b) && aligned(y);
  switch (vec_ok ? vpl : 0) {
    case 1: layer_norm_vec_kernel<T, 1><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 2: layer_norm_vec_kernel<T, 2><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 3: layer_norm_vec_kernel<T, 3><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 4: layer_norm_vec_kernel<T, 4><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 5: layer_norm_vec_kernel<T, 5><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 6: layer_norm_vec_kernel<T, 6><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    case 7: case 8: layer_norm_vec_kernel<T, 8><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
    default: layer_norm_generic_kernel<T><<<grid, 256, 0, s>>>(x, g, b, y, rows, d, eps); break;
  }
  VIT_CUDA_LAUNCH_CHECK();
}

StepFn op_layer_norm(OpEnv& env, const Node& n) {
  const auto& ys = env.shape(n.output);
  const int64_t d = ys.back(), rows = numel(ys) / d;
  const void* x = env.tensor(n.inputs[0]);
  const void* g = env.weight(n, "weight");
  const void* b = env.weight(n, "bias");
  void* y = env.tensor(n.output);
  const float eps = static_cast<float>(n.attr("eps"));
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, layer_norm_cuda<T>(static_cast<const T*>(x), static_cast<const T*>(g),
                                              static_cast<const T*>(b), static_cast<T*>(y), rows, static_cast<int>(d),
                                              eps, s));
  };
}

}  // namespace vit::cuda
