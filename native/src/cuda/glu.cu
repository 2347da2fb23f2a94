// Gated units: glu (x[.., 2H] -> act(gate) * value, gate the first half when gate_first (timm SwiGLUPacked), else
// the second (timm GluMlp)) and mul (a * b, SwiGLU's act(fc1_g(x)) * fc1_x(x)). Math in float32.
#include "cuda/act.cuh"
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

// ---- kernels ----

template <typename T, int ACT, bool GATE_FIRST>
__global__ void glu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int64_t h) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / h, j = i % h;
    const T* xr = x + row * 2 * h;
    const float a = to_f<T>(xr[j]), b = to_f<T>(xr[h + j]);
    y[i] = from_f<T>(GATE_FIRST ? act_f<ACT>(a) * b : a * act_f<ACT>(b));
  }
}

template <typename T>
__global__ void mul_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<T>(to_f<T>(a[i]) * to_f<T>(b[i]));
}

// ---- launchers ----

template <typename T, int ACT>
void glu_cuda(const T* x, T* y, int64_t rows, int64_t h, bool gate_first, cudaStream_t s) {
  const int64_t total = rows * h;
  if (gate_first)
    glu_kernel<T, ACT, true><<<grid_for(total, 256), 256, 0, s>>>(x, y, total, h);
  else
    glu_kernel<T, ACT, false><<<grid_for(total, 256), 256, 0, s>>>(x, y, total, h);
  VIT_CUDA_LAUNCH_CHECK();
}

template <typename T>
void mul_cuda(const T* a, const T* b, T* y, int64_t n, cudaStream_t s) {
  mul_kernel<T><<<grid_for(n, 256), 256, 0, s>>>(a, b, y, n);
  VIT_CUDA_LAUNCH_CHECK();
}

// ---- op entries ----

StepFn op_glu(OpEnv& env, const Node& n) {
  const auto& ys = env.shape(n.output);
  const int64_t h = ys.back(), rows = numel(ys) / h;
  VIT_CHECK(env.shape(n.inputs[0]).back() == 2 * h, Shape, node_label(n) + ": input width must be twice the output's");
  const int act = n.iattr("act");
  VIT_CHECK(act >= 0 && act <= kActMax, Unsupported, node_label(n) + ": unknown act " + std::to_string(act));
  const bool gate_first = n.iattr("gate_first") != 0;
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, VIT_DISPATCH_ACT(act, glu_cuda<T, ACT>(static_cast<const T*>(x), static_cast<T*>(y), rows, h,
                                                                gate_first, s)));
  };
}

StepFn op_mul(OpEnv& env, const Node& n) {
  const int64_t total = numel(env.shape(n.output));
  VIT_CHECK(numel(env.shape(n.inputs[0])) == total && numel(env.shape(n.inputs[1])) == total, Shape,
            node_label(n) + ": operand shapes do not match the output");
  const void* a = env.tensor(n.inputs[0]);
  const void* b = env.tensor(n.inputs[1]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, mul_cuda<T>(static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), total,
                                       s));
  };
}

}  // namespace vit::cuda
