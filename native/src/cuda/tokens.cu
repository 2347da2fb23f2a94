// Token bookkeeping: prefix concat (class / distillation / register tokens, broadcast over the batch),
// slicing (tokens, or columns of the last dim), pooling (token, avg, max, avgmax over tokens [start, T)),
// tokens -> NCHW.
#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

constexpr int kMaxPrefix = 8;
struct PrefixList {
  const void* ptr[kMaxPrefix];
  int64_t count[kMaxPrefix];
  int64_t batch_stride[kMaxPrefix];  // 0 when the prefix is [1,k,D] (broadcast)
  int n;
};

template <typename T>
__global__ void concat_prefix_kernel(const T* __restrict__ x, PrefixList pre, T* __restrict__ y, int64_t total,
                                     int64_t tokens, int64_t np, int64_t d) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = i % d;
    const int64_t t = (i / d) % tokens;
    const int64_t b = i / (d * tokens);
    if (t >= np) {
      y[i] = x[(b * (tokens - np) + (t - np)) * d + j];
      continue;
    }
    int64_t r = t;
    int k = 0;
    while (k < pre.n - 1 && r >= pre.count[k]) r -= pre.count[k++];
    y[i] = static_cast<const T*>(pre.ptr[k])[b * pre.batch_stride[k] + r * d + j];
  }
}

// y[b, t, j] = x[b, start + t, j] for t < count: slice_tokens, and slice_last with d = 1 (t_in the last dim).
template <typename T>
__global__ void slice_tokens_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int64_t t_in,
                                    int64_t start, int64_t count, int64_t d) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = i % d, t = (i / d) % count, b = i / (d * count);
    y[i] = x[(b * t_in + start + t) * d + j];
  }
}

template <typename T>
__global__ void tokens_to_nchw_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int64_t n,
                                      int64_t d) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = i % n, c = (i / n) % d, b = i / (n * d);  // y[b, c, p]
    y[i] = x[(b * n + p) * d + c];
  }
}

template <typename T>
__global__ void pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t bsz, int64_t t, int64_t d, int mode,
                            int64_t start, int64_t index) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= bsz * d) return;
  const int64_t b = i / d, j = i % d;
  const T* xb = x + b * t * d + j;
  if (mode == 0) {
    y[i] = xb[index * d];
    return;
  }
  float s = 0.f, m = -INFINITY;
  for (int64_t r = start; r < t; ++r) {
    const float v = to_f<T>(xb[r * d]);
    s += v;
    m = fmaxf(m, v);
  }
  const float avg = s / static_cast<float>(t - start);
  y[i] = from_f<T>(mode == 1 ? avg : mode == 2 ? m : 0.5f * (m + avg));
}

StepFn op_concat_prefix(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  VIT_CHECK(n.inputs.size() >= 2 && n.inputs.size() - 1 <= static_cast<size_t>(kMaxPrefix), Unsupported,
            node_label(n) + ": 1 to 8 prefix inputs supported");
  PrefixList pre{};
  pre.n = static_cast<int>(n.inputs.size() - 1);
  int64_t np = 0;
  for (int i = 0; i < pre.n; ++i) {
    const auto& s = env.shape(n.inputs[i + 1]);
    VIT_CHECK(s.size() == 3 && s[2] == xs[2] && (s[0] == 1 || s[0] == xs[0]), Shape,
              node_label(n) + ": prefix input " + std::to_string(i) + " must be [1 or B, k, D]");
    pre.ptr[i] = env.tensor(n.inputs[i + 1]);
    pre.count[i] = s[1];
    pre.batch_stride[i] = s[0] == 1 ? 0 : s[1] * s[2];
    np += s[1];
  }
  VIT_CHECK(ys[1] == np + xs[1], Shape, node_label(n) + ": output token count mismatch");
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t total = numel(ys), tokens = ys[1], d = ys[2];
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, concat_prefix_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), pre, static_cast<T*>(y), total, tokens, np, d));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

StepFn op_slice_tokens(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  const int64_t start = n.iattr("start"), count = n.iattr("count");
  VIT_CHECK(start >= 0 && count >= 0 && start + count <= xs[1] && ys[1] == count, Shape,
            node_label(n) + ": slice out of range");
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t total = numel(ys), tin = xs[1], d = xs[2];
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    if (total == 0) return;
    VIT_DISPATCH_DTYPE(dt, slice_tokens_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(y), total, tin, start, count, d));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

StepFn op_slice_last(OpEnv& env, const Node& n) {
  const int64_t c = env.shape(n.inputs[0]).back(), count = env.shape(n.output).back();
  const int64_t start = n.iattr("start");
  VIT_CHECK(start >= 0 && count > 0 && start + count <= c, Shape, node_label(n) + ": slice out of range");
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t total = numel(env.shape(n.output));
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, slice_tokens_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(y), total, c, start, count, 1));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

StepFn op_tokens_to_nchw(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t total = numel(xs), nt = xs[1], d = xs[2];
  VIT_CHECK(numel(env.shape(n.output)) == total, Shape, node_label(n) + ": h * w must equal the token count");
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, tokens_to_nchw_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(y), total, nt, d));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

StepFn op_pool(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const int mode = n.iattr("mode");
  const int64_t start = n.iattr("start"), index = n.iattr("index");
  VIT_CHECK(mode >= 0 && mode <= 3, Unsupported, node_label(n) + ": unknown pool mode " + std::to_string(mode));
  VIT_CHECK(mode == 0 ? (index >= 0 && index < xs[1]) : (start >= 0 && start < xs[1]), Shape,
            node_label(n) + ": pooled token range is empty or out of range");
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t bsz = xs[0], t = xs[1], d = xs[2];
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, pool_kernel<T><<<grid_for(bsz * d, 256, 1LL << 30), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(y), bsz, t, d, mode, start, index));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

}  // namespace vit::cuda
