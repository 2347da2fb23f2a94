// PatchEmbed: a conv whose kernel equals its stride = patchify (zero padding right/bottom) + one GEMM with
// the bias epilogue. cols[(b, gy, gx), (c, py, px)] matches weight[D, C, P, P] flattened.
#include <memory>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

template <typename T>
__global__ void patchify_kernel(const T* __restrict__ x, T* __restrict__ cols, int64_t total, int c, int h, int w,
                                int p, int gh, int gw) {
  const int64_t k = (int64_t)c * p * p;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / k;
    const int kk = static_cast<int>(i % k);
    const int px = kk % p, py = (kk / p) % p, ci = kk / (p * p);
    const int gx = static_cast<int>(row % gw), gy = static_cast<int>((row / gw) % gh);
    const int64_t b = row / ((int64_t)gw * gh);
    const int yy = gy * p + py, xx = gx * p + px;
    cols[i] = (yy < h && xx < w) ? x[((b * c + ci) * h + yy) * w + xx] : from_f<T>(0.f);
  }
}

size_t patch_embed_scratch_bytes(const OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  const int64_t p = n.iattr("patch");
  return static_cast<size_t>(ys[0] * ys[1] * xs[1] * p * p) * env.esize();
}

StepFn op_patch_embed(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  VIT_CHECK(xs.size() == 4 && ys.size() == 3, Shape, node_label(n) + ": expects x[B,C,H,W] -> [B,N,D]");
  const int p = n.iattr("patch");
  VIT_CHECK(p > 0, Argument, node_label(n) + ": patch must be > 0");
  const int c = static_cast<int>(xs[1]), h = static_cast<int>(xs[2]), w = static_cast<int>(xs[3]);
  int gh = (h + p - 1) / p, gw = (w + p - 1) / p;  // padded grid (dynamic_img_pad)
  if ((int64_t)gh * gw != ys[1]) gh = h / p, gw = w / p;  // conv floor
  VIT_CHECK((int64_t)gh * gw == ys[1], Shape, node_label(n) + ": token count does not match the patch grid");
  const int64_t m = ys[0] * ys[1], k = (int64_t)c * p * p, d = ys[2];
  const std::string* wkey = n.weight("weight");
  VIT_CHECK(wkey && numel(env.store->get(*wkey).shape) == d * k, Shape,
            node_label(n) + ": weight must hold D*C*P*P = " + std::to_string(d * k) + " values");
  const bool has_bias = n.weight("bias") != nullptr;
  const void* wt = env.weight(n, "weight");
  const void* b = env.weight(n, "bias");
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  void* cols = env.scratch;
  void* wsp = env.workspace;
  const DType dt = env.dtype;
  auto gemm = std::make_shared<LinearGemm>(env.lt, dt, env.tf32, m, d, k, has_bias, false, env.workspace_bytes,
                                           node_label(n));
  if (env.tune_gemm(m, d, k)) gemm->tune(cols, wt, b, nullptr, y, wsp);
  const int64_t total = m * k;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, patchify_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(cols), total, c, h, w, p, gh, gw));
    VIT_CUDA_LAUNCH_CHECK();
    gemm->run(s, cols, wt, b, nullptr, y, wsp);
  };
}

}  // namespace vit::cuda
