// Elementwise ops and row softmax: dtype conversion, Add (alpha/beta, batch broadcast), activations (Act by code,
// GELU, Tanh), Softmax. Math in float32.
#include "cuda/act.cuh"
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

// ---- kernels ----

template <typename TI, typename TO>
__global__ void convert_kernel(const TI* __restrict__ x, TO* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<TO>(to_f<TI>(x[i]));
}

template <typename T>
__global__ void add_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, int64_t n,
                           int64_t b_period, float alpha, float beta) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = b_period > 0 ? i % b_period : i;
    y[i] = from_f<T>(alpha * to_f<T>(a[i]) + beta * to_f<T>(b[j]));
  }
}

template <typename T, int ACT>  // vit/act.h codes
__global__ void act_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<T>(act_f<ACT>(to_f<T>(x[i])));
}

// One warp per row; three passes over the row (max, sum, write), reads stay in L1/L2.
template <typename TI, typename TO>
__global__ void softmax_kernel(const TI* x, TO* y, int64_t rows, int64_t n) {  // may run in place
  const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const TI* xr = x + row * n;
  TO* yr = y + row * n;
  float m = -INFINITY;
  for (int64_t j = lane; j < n; j += 32) m = fmaxf(m, to_f<TI>(xr[j]));
  m = warp_max(m);
  float s = 0.f;
  for (int64_t j = lane; j < n; j += 32) s += expf(to_f<TI>(xr[j]) - m);
  s = warp_sum(s);
  const float inv = 1.f / s;
  for (int64_t j = lane; j < n; j += 32) yr[j] = from_f<TO>(expf(to_f<TI>(xr[j]) - m) * inv);
}

// ---- launchers ----

void convert_from_f32(const float* x, void* y, int64_t n, DType dtype, cudaStream_t s) {
  if (n <= 0) return;
  VIT_DISPATCH_DTYPE(dtype, convert_kernel<float, T><<<grid_for(n, 256), 256, 0, s>>>(x, static_cast<T*>(y), n));
  VIT_CUDA_LAUNCH_CHECK();
}

void convert_to_f32(const void* x, float* y, int64_t n, DType dtype, cudaStream_t s) {
  if (n <= 0) return;
  VIT_DISPATCH_DTYPE(dtype, convert_kernel<T, float><<<grid_for(n, 256), 256, 0, s>>>(static_cast<const T*>(x), y, n));
  VIT_CUDA_LAUNCH_CHECK();
}

void softmax_rows(const void* x, DType in, void* y, DType out, int64_t rows, int64_t n, cudaStream_t s) {
  if (rows <= 0) return;
  const unsigned grid = static_cast<unsigned>((rows + 7) / 8);
  if (in == DType::F32) {
    VIT_DISPATCH_DTYPE(out, softmax_kernel<float, T><<<grid, 256, 0, s>>>(static_cast<const float*>(x),
                                                                        static_cast<T*>(y), rows, n));
  } else {
    VIT_CHECK(in == out, Internal, "softmax_rows: 16-bit input needs the same output dtype");
    VIT_DISPATCH_DTYPE(out, softmax_kernel<T, T><<<grid, 256, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                    rows, n));
  }
  VIT_CUDA_LAUNCH_CHECK();
}

// ---- op entries ----

StepFn op_add(OpEnv& env, const Node& n) {
  const auto& ys = env.shape(n.output);
  const auto& bs = env.shape(n.inputs[1]);
  const int64_t total = numel(ys);
  const bool bcast = bs.size() != ys.size() || bs[0] != ys[0];  // b over the batch, or a bias vector [C]
  VIT_CHECK(numel(env.shape(n.inputs[0])) == total && (bcast ? numel(bs) * ys[0] == total : numel(bs) == total), Shape,
            node_label(n) + ": operand shapes do not match the output");
  const int64_t period = bcast ? numel(bs) : 0;
  const void* a = env.tensor(n.inputs[0]);
  const void* b = env.tensor(n.inputs[1]);
  void* y = env.tensor(n.output);
  const float alpha = static_cast<float>(n.attr("alpha")), beta = static_cast<float>(n.attr("beta"));
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, add_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), total, period,
                               alpha, beta));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

namespace {
StepFn act_step(OpEnv& env, const Node& n, int act) {
  VIT_CHECK(act >= 0 && act <= kActMax, Unsupported, node_label(n) + ": unknown act " + std::to_string(act));
  const int64_t total = numel(env.shape(n.output));
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, VIT_DISPATCH_ACT(act, act_kernel<T, ACT><<<grid_for(total, 256), 256, 0, s>>>(
                                                     static_cast<const T*>(x), static_cast<T*>(y), total)));
    VIT_CUDA_LAUNCH_CHECK();
  };
}
}  // namespace

StepFn op_act(OpEnv& env, const Node& n) { return act_step(env, n, n.iattr("act")); }
StepFn op_gelu(OpEnv& env, const Node& n) { return act_step(env, n, int(Act::Gelu)); }
StepFn op_tanh(OpEnv& env, const Node& n) { return act_step(env, n, int(Act::Tanh)); }

StepFn op_softmax(OpEnv& env, const Node& n) {
  const auto& ys = env.shape(n.output);
  const int64_t cols = ys.back(), rows = numel(ys) / cols;
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) { softmax_rows(x, dt, y, dt, rows, cols, s); };
}

}  // namespace vit::cuda
