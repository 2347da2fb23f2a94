// Shared CUDA helpers: error checks that throw vit::error (never abort), dtype traits for the three model
// dtypes (float32 / float16 / bfloat16, float32 math everywhere), and small launch helpers.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "vit/error.h"
#include "vit/program.h"

namespace vit::cuda {

[[noreturn]] void throw_cuda(cudaError_t e, const char* stmt, const char* file, int line, const std::string& ctx);

}  // namespace vit::cuda

// Throws vit::error(ErrorCode::Cuda) naming the statement, the place and CUDA's message. Clears the
// (non-sticky) error so the next call starts clean.
#define VIT_CUDA_CHECK(stmt)                                                        \
  do {                                                                              \
    cudaError_t vit_e_ = (stmt);                                                    \
    if (vit_e_ != cudaSuccess) ::vit::cuda::throw_cuda(vit_e_, #stmt, __FILE__, __LINE__, ""); \
  } while (0)
#define VIT_CUDA_CHECK_CTX(stmt, ctx)                                               \
  do {                                                                              \
    cudaError_t vit_e_ = (stmt);                                                    \
    if (vit_e_ != cudaSuccess) ::vit::cuda::throw_cuda(vit_e_, #stmt, __FILE__, __LINE__, (ctx)); \
  } while (0)
// After a kernel launch: configuration errors surface here.
#define VIT_CUDA_LAUNCH_CHECK() VIT_CUDA_CHECK(cudaGetLastError())

namespace vit::cuda {

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
inline const char* dtype_name(DType t) { return t == DType::F32 ? "float32" : t == DType::F16 ? "float16" : "bfloat16"; }

#ifdef __CUDACC__
template <typename T>
__device__ __forceinline__ float to_f(T v);
template <>
__device__ __forceinline__ float to_f<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
#endif

inline unsigned grid_for(int64_t n, int block, int64_t cap = 65535LL * 8) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > cap) g = cap;
  return static_cast<unsigned>(g);
}

}  // namespace vit::cuda

// Instantiates a launcher body for the runtime dtype: F(T) is called with T = float / __half / __nv_bfloat16.
#define VIT_DISPATCH_DTYPE(dtype, ...)                         \
  switch (dtype) {                                             \
    case ::vit::DType::F32: { using T = float; __VA_ARGS__; break; }          \
    case ::vit::DType::F16: { using T = __half; __VA_ARGS__; break; }         \
    case ::vit::DType::BF16: { using T = __nv_bfloat16; __VA_ARGS__; break; } \
  }
