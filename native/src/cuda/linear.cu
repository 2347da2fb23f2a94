// Linear: y = residual + gamma * act(x W^T + b).
// act == none: one cuBLASLt call (bias epilogue, residual as C with beta = 1, LayerScale folded into W and b
// once at upload). Any other act (vit/act.h): cuBLASLt with the bias epilogue, then one fused pass for the act,
// gamma and the residual. cuBLASLt's own GELU epilogue is the tanh approximation: used only for
// act == gelu_tanh (a model built with act_layer 'gelu_tanh'), alone in one call when nothing follows it.
#include <memory>

#include "cuda/act.cuh"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

// In place on y[rows, n]: y = (res ? res : 0) + (gamma ? gamma[col] : 1) * act(y). VEC elements per thread
// step (VEC divides n; pointers 16-byte aligned when VEC > 1).
template <typename T, int ACT, int VEC>
__global__ void linear_epilogue_kernel(T* __restrict__ y, const T* __restrict__ res, const T* __restrict__ gamma,
                                       int64_t total, int64_t n) {
  const int64_t nvec = total / VEC;
  for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < nvec; v += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = v * VEC;
    const int64_t col = i % n;
    T yv[VEC], rv[VEC], gv[VEC];
    if (VEC == 8 && sizeof(T) == 2) {
      *reinterpret_cast<uint4*>(yv) = *reinterpret_cast<const uint4*>(y + i);
      if (res) *reinterpret_cast<uint4*>(rv) = *reinterpret_cast<const uint4*>(res + i);
      if (gamma) *reinterpret_cast<uint4*>(gv) = *reinterpret_cast<const uint4*>(gamma + col);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        yv[j] = y[i + j];
        if (res) rv[j] = res[i + j];
        if (gamma) gv[j] = gamma[col + j];
      }
    }
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      float o = act_f<ACT>(to_f<T>(yv[j]));
      if (gamma) o *= to_f<T>(gv[j]);
      if (res) o += to_f<T>(rv[j]);
      yv[j] = from_f<T>(o);
    }
    if (VEC == 8 && sizeof(T) == 2) {
      *reinterpret_cast<uint4*>(y + i) = *reinterpret_cast<const uint4*>(yv);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) y[i + j] = yv[j];
    }
  }
}

template <typename T, int ACT>
void linear_epilogue_cuda(T* y, const T* res, const T* gamma, int64_t rows, int64_t n, cudaStream_t s) {
  const int64_t total = rows * n;
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const bool vec = sizeof(T) == 2 && n % 8 == 0 && aligned(y) && (!res || aligned(res)) && (!gamma || aligned(gamma));
  if (vec)
    linear_epilogue_kernel<T, ACT, 8><<<grid_for(total / 8, 256), 256, 0, s>>>(y, res, gamma, total, n);
  else
    linear_epilogue_kernel<T, ACT, 1><<<grid_for(total, 256), 256, 0, s>>>(y, res, gamma, total, n);
  VIT_CUDA_LAUNCH_CHECK();
}

StepFn op_linear(OpEnv& env, const Node& n) {
  const std::string* wkey = n.weight("weight");
  VIT_CHECK(wkey, Argument, node_label(n) + ": no weight");
  const auto& ws = env.store->get(*wkey).shape;
  VIT_CHECK(ws.size() == 2, Shape, node_label(n) + ": weight " + *wkey + " is not 2-D");
  const auto& xs = env.shape(n.inputs[0]);
  const int64_t k = ws[1], nout = ws[0], m = numel(xs) / k;
  VIT_CHECK(xs.back() == k && numel(env.shape(n.output)) == m * nout, Shape,
            node_label(n) + ": input width " + std::to_string(xs.back()) + " vs weight " + std::to_string(k));
  const int act = n.iattr("act");
  VIT_CHECK(act >= 0 && act <= kActMax, Unsupported, node_label(n) + ": unknown act " + std::to_string(act));
  const bool has_res = n.inputs.size() >= 2;
  const bool has_bias = n.weight("bias") != nullptr, has_gamma = n.weight("gamma") != nullptr;
  const void* x = env.tensor(n.inputs[0]);
  const void* res = has_res ? env.tensor(n.inputs[1]) : nullptr;
  void* y = env.tensor(n.output);
  void* wsp = env.workspace;
  const DType dt = env.dtype;

  if (act == 0) {
    const void* w = has_gamma ? env.weight_scaled(n, "weight", "gamma") : env.weight(n, "weight");
    const void* b = has_bias ? (has_gamma ? env.weight_scaled(n, "bias", "gamma") : env.weight(n, "bias")) : nullptr;
    auto gemm = std::make_shared<LinearGemm>(env.lt, dt, env.tf32, m, nout, k, has_bias, has_res,
                                             env.workspace_bytes, node_label(n));
    if (env.tune_gemm(m, nout, k)) gemm->tune(x, w, b, res, y, wsp);
    return [=](cudaStream_t s) { gemm->run(s, x, w, b, res, y, wsp); };
  }
  const void* w = env.weight(n, "weight");
  const void* b = env.weight(n, "bias");
  const void* gamma = env.weight(n, "gamma");
  const bool gelu_tanh_epilogue = act == 3 && !has_res && !has_gamma;  // cuBLASLt alone: one call, no extra pass
  auto gemm = std::make_shared<LinearGemm>(env.lt, dt, env.tf32, m, nout, k, has_bias, false, env.workspace_bytes,
                                           node_label(n), gelu_tanh_epilogue);
  if (env.tune_gemm(m, nout, k)) gemm->tune(x, w, b, nullptr, y, wsp);
  if (gelu_tanh_epilogue) return [=](cudaStream_t s) { gemm->run(s, x, w, b, nullptr, y, wsp); };
  return [=](cudaStream_t s) {
    gemm->run(s, x, w, b, nullptr, y, wsp);
    VIT_DISPATCH_DTYPE(dt, VIT_DISPATCH_ACT(act, linear_epilogue_cuda<T, ACT>(static_cast<T*>(y),
                                                                        static_cast<const T*>(res),
                                                                        static_cast<const T*>(gamma), m, nout, s)));
  };
}

}  // namespace vit::cuda
