// The CNN-backbone ops of hybrid ViTs (NCHW): conv2d (im2col of a chunk of batch items + one strided-batched
// cuBLASLt GEMM per chunk straight into NCHW; a 1x1 stride-1 unpadded conv multiplies x itself, the whole batch
// in one GEMM), GroupNorm (+ residual, + ReLU), ReLU, max / avg
// pooling with explicit padding. Semantics as native/src/cpu/backbone.cc and dnnl-conv.cc: conv weights are the
// shared conv_weights() (weight standardisation and BatchNorm folded once per store); conv output =
// act(conv + bias + residual); max pooling never picks padding; avg pooling divides by the in-bounds count
// (count_include_pad=False; ceil_mode is in the output shape). Statistics and accumulation in float32.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/ops.cuh"
#include "vit/conv-weights.h"

namespace vit::cuda {

namespace {

constexpr size_t kIm2colBudget = size_t(128) << 20;  // bytes of columns per chunk of batch items
// Items per batched GEMM at most: cuBLAS kernels may put the batch on gridDim.y / z (<= 65535).
constexpr int64_t kMaxGemmBatch = 65535;

struct ConvDims {
  int64_t b, c, h, w, o, oh, ow, kh, kw, stride, dil, pt, pl;
  int64_t k() const { return c * kh * kw; }
  int64_t p() const { return oh * ow; }
  bool direct() const { return kh == 1 && kw == 1 && stride == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
};

ConvDims conv_dims(const OpEnv& env, const Node& n) {
  const auto& x = env.shape(n.inputs[0]);
  const auto& y = env.shape(n.output);
  const std::string* wk = n.weight("weight");
  VIT_CHECK(wk, Argument, node_label(n) + ": no weight");
  const auto& ws = env.store->get(*wk).shape;
  VIT_CHECK(x.size() == 4 && y.size() == 4 && ws.size() == 4 && ws[1] == x[1] && ws[0] == y[1], Shape,
            node_label(n) + ": expects x[B,C,H,W], weight[O,C,kh,kw] -> y[B,O,OH,OW]");
  return {x[0], x[1], x[2], x[3], y[1], y[2], y[3], ws[2], ws[3], n.iattr("stride"), n.iattr("dilation"),
          n.iattr("pad_t"), n.iattr("pad_l")};
}

// How the batch is cut into GEMM calls: as many items as the im2col budget holds (the whole batch when x is
// multiplied in place), spread evenly so the last chunk is no sliver and usually needs no second GEMM plan.
struct Chunks {
  int64_t size, count, last;  // items per chunk, chunks, items in the last one (1 <= last <= size)
};

Chunks conv_chunks(const OpEnv& env, const ConvDims& d) {
  int64_t cap = kMaxGemmBatch;
  if (!d.direct()) {
    const int64_t per = std::max<int64_t>(1, d.k() * d.p() * static_cast<int64_t>(env.esize()));
    cap = std::min<int64_t>(cap, std::max<int64_t>(1, static_cast<int64_t>(kIm2colBudget) / per));
  }
  const int64_t count = (d.b + cap - 1) / cap;
  const int64_t size = (d.b + count - 1) / count;
  return {size, count, d.b - (count - 1) * size};
}

bool conv_batch_enabled() {
  const char* v = std::getenv("VITNODE_CUDA_CONV_BATCH");
  return !(v && v[0] == '0');
}

uint32_t align_of(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && (a % al) != 0) al >>= 1;
  return al;
}

// ---- kernels ----

// cols[item][k][p], k = (c * kh + i) * kw + j (the weight's [O, C, kh, kw] order), p = oy * ow + ox.
template <typename T>
__global__ void im2col_kernel(const T* __restrict__ x, T* __restrict__ cols, int64_t total, int c, int h, int w,
                              int kh, int kw, int stride, int dil, int pt, int pl, int oh, int ow) {
  const int64_t p_n = (int64_t)oh * ow, k_n = (int64_t)c * kh * kw;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = i % p_n;
    const int64_t r = i / p_n;
    const int64_t kk = r % k_n, item = r / k_n;
    const int oy = static_cast<int>(p / ow), ox = static_cast<int>(p % ow);
    const int jj = static_cast<int>(kk % kw), ii = static_cast<int>((kk / kw) % kh), ci = static_cast<int>(kk / (kw * kh));
    const int iy = oy * stride - pt + ii * dil, ix = ox * stride - pl + jj * dil;
    cols[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[((item * c + ci) * h + iy) * w + ix] : from_f<T>(0.f);
  }
}

// y[B, O, P] = act(y + bias[o]) in place.
template <typename T>
__global__ void conv_bias_act_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t total, int64_t p_n,
                                     int64_t o_n, int relu) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    float v = to_f<T>(y[i]);
    if (bias) v += to_f<T>(bias[(i / p_n) % o_n]);
    if (relu) v = fmaxf(v, 0.f);
    y[i] = from_f<T>(v);
  }
}

__device__ __forceinline__ float block_sum(float v, float* red) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
  __syncthreads();  // red is reused between calls
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = lane < nw ? red[lane] : 0.f;
  return warp_sum(t);
}

// One block per (batch, group); a group's channels are contiguous in NCHW. Two-pass mean / variance.
template <typename T>
__global__ void group_norm_kernel(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                  const T* __restrict__ res, T* __restrict__ y, int64_t cg, int64_t spatial, int groups,
                                  float eps, int relu) {
  __shared__ float red[32];
  const int64_t bg = blockIdx.x;
  const int64_t n = cg * spatial, off = bg * n;
  const T* xs = x + off;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += to_f<T>(xs[i]);
  const float mean = block_sum(s, red) / static_cast<float>(n);
  float q = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = to_f<T>(xs[i]) - mean;
    q += d * d;
  }
  const float rstd = rsqrtf(block_sum(q, red) / static_cast<float>(n) + eps);
  const int64_t c0 = (bg % groups) * cg;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int64_t ch = c0 + i / spatial;
    const float sc = rstd * to_f<T>(gamma[ch]);
    float v = to_f<T>(xs[i]) * sc + (to_f<T>(beta[ch]) - mean * sc);
    if (res) v += to_f<T>(res[off + i]);
    if (relu) v = fmaxf(v, 0.f);
    y[off + i] = from_f<T>(v);
  }
}

template <typename T>
__global__ void relu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<T>(fmaxf(to_f<T>(x[i]), 0.f));
}

template <typename T, bool MAX>
__global__ void pool2d_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, int h, int w, int oh, int ow,
                              int k, int stride, int pt, int pl) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int oj = static_cast<int>(i % ow), oi = static_cast<int>((i / ow) % oh);
    const int64_t plane = i / ((int64_t)ow * oh);
    const T* xp = x + plane * h * w;
    const int i0 = max(oi * stride - pt, 0), i1 = min(oi * stride - pt + k, h);
    const int j0 = max(oj * stride - pl, 0), j1 = min(oj * stride - pl + k, w);
    float acc = MAX ? -INFINITY : 0.f;
    for (int a = i0; a < i1; ++a)
      for (int b = j0; b < j1; ++b) {
        const float v = to_f<T>(xp[a * w + b]);
        acc = MAX ? fmaxf(acc, v) : acc + v;
      }
    if (!MAX) {
      const int cnt = (i1 - i0) * (j1 - j0);
      acc = cnt > 0 ? acc / static_cast<float>(cnt) : 0.f;
    }
    y[i] = from_f<T>(acc);
  }
}

// ---- launchers ----

template <typename T>
void im2col_cuda(const T* x, T* cols, int64_t items, const ConvDims& d, cudaStream_t s) {
  const int64_t total = items * d.k() * d.p();
  im2col_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
      x, cols, total, static_cast<int>(d.c), static_cast<int>(d.h), static_cast<int>(d.w), static_cast<int>(d.kh),
      static_cast<int>(d.kw), static_cast<int>(d.stride), static_cast<int>(d.dil), static_cast<int>(d.pt),
      static_cast<int>(d.pl), static_cast<int>(d.oh), static_cast<int>(d.ow));
  VIT_CUDA_LAUNCH_CHECK();
}

template <typename T>
void conv_bias_act_cuda(T* y, const T* bias, int64_t b, int64_t o, int64_t p, bool relu, cudaStream_t s) {
  const int64_t total = b * o * p;
  conv_bias_act_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(y, bias, total, p, o, relu ? 1 : 0);
  VIT_CUDA_LAUNCH_CHECK();
}

template <typename T>
void group_norm_cuda(const T* x, const T* gamma, const T* beta, const T* res, T* y, int64_t b, int64_t c,
                     int64_t spatial, int64_t groups, float eps, bool relu, cudaStream_t s) {
  const int64_t blocks = b * groups;
  VIT_CHECK(blocks < (int64_t(1) << 31), Unsupported, "group_norm: batch * groups too large");
  group_norm_kernel<T><<<static_cast<unsigned>(blocks), 256, 0, s>>>(x, gamma, beta, res, y, c / groups, spatial,
                                                                     static_cast<int>(groups), eps, relu ? 1 : 0);
  VIT_CUDA_LAUNCH_CHECK();
}

}  // namespace

// ---- op entries ----

size_t conv2d_scratch_bytes(const OpEnv& env, const Node& n) {
  const ConvDims d = conv_dims(env, n);
  if (d.direct() || d.b <= 0) return 0;
  return static_cast<size_t>(conv_chunks(env, d).size * d.k() * d.p()) * env.esize();
}

StepFn op_conv2d(OpEnv& env, const Node& n) {
  const ConvDims d = conv_dims(env, n);
  VIT_CHECK(d.stride > 0 && d.dil > 0, Argument, node_label(n) + ": stride / dilation must be > 0");
  auto cw = conv_weights(*env.store, n);
  const std::string key = conv_weights_key(n);
  const void* wt = env.weights->get_derived(key + "#weight", cw->weight);
  const void* bias = cw->bias.empty() ? nullptr : env.weights->get_derived(key + "#bias", cw->bias);
  const bool has_res = n.inputs.size() >= 2, relu = n.iattr("act") == 1;
  const void* x = env.tensor(n.inputs[0]);
  const void* res = has_res ? env.tensor(n.inputs[1]) : nullptr;
  void* y = env.tensor(n.output);
  void* cols = env.scratch;
  void* wsp = env.workspace;
  const DType dt = env.dtype;
  const size_t es = env.esize();
  const bool direct = d.direct();
  if (d.b <= 0) return [](cudaStream_t) {};
  const Chunks ch = conv_chunks(env, d);
  const int64_t x_item = d.c * d.h * d.w * static_cast<int64_t>(es), y_item = d.o * d.p() * static_cast<int64_t>(es),
                col_item = d.k() * d.p() * static_cast<int64_t>(es);
  // The alignment every per-item pointer shares (cuBLASLt's algorithms may assume 256 bytes otherwise).
  uint32_t align = std::min(align_of(wt), align_of(y));
  if (has_res) align = std::min(align, align_of(res));
  if (direct) align = std::min(align, align_of(x));
  else align = std::min(align, align_of(cols));
  for (int64_t item : {x_item, y_item, col_item}) align = std::min(align, align_of(reinterpret_cast<const void*>(item)));
  if (align == 0) align = 1;
  // One GEMM plan per distinct chunk size. VITNODE_CUDA_CONV_BATCH=0 (or a cuBLASLt that refuses the batched
  // layout) keeps one GEMM per item, the path this replaced, for comparison.
  auto plan = [&](int64_t items) {
    return std::make_shared<ConvGemm>(env.lt, dt, env.tf32, d.p(), d.o, d.k(), items, has_res, align,
                                      env.workspace_bytes, node_label(n));
  };
  int64_t per_call = ch.size;
  std::shared_ptr<ConvGemm> full, last;
  if (per_call > 1 && conv_batch_enabled()) {
    try {
      full = plan(ch.size);
      last = ch.last == ch.size ? full : plan(ch.last);
    } catch (const error& e) {
      std::fprintf(stderr, "vitnode: %s; falling back to one GEMM per item\n", e.what());
      full = last = nullptr;
    }
  }
  if (!full) {
    per_call = 1;
    full = last = plan(1);
  }
  return [=](cudaStream_t s) {
    for (int64_t c = 0; c < ch.count; ++c) {
      const int64_t b0 = c * ch.size, items = c + 1 == ch.count ? ch.last : ch.size;
      if (!direct)
        VIT_DISPATCH_DTYPE(dt, im2col_cuda<T>(reinterpret_cast<const T*>(static_cast<const char*>(x) + b0 * x_item),
                                              static_cast<T*>(cols), items, d, s));
      for (int64_t i = 0; i < items; i += per_call) {
        const int64_t b = b0 + i;
        const ConvGemm& g = items == ch.size ? *full : *last;  // (the same plan when per_call is 1)
        const void* col = direct ? static_cast<const char*>(x) + b * x_item : static_cast<const char*>(cols) + i * col_item;
        g.run(s, col, wt, has_res ? static_cast<const char*>(res) + b * y_item : nullptr,
              static_cast<char*>(y) + b * y_item, wsp);
      }
    }
    if (bias || relu)
      VIT_DISPATCH_DTYPE(dt, conv_bias_act_cuda<T>(static_cast<T*>(y), static_cast<const T*>(bias), d.b, d.o, d.p(),
                                                   relu, s));
  };
}

StepFn op_group_norm(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const int64_t groups = n.iattr("groups");
  VIT_CHECK(xs.size() >= 2 && groups > 0 && xs[1] % groups == 0, Shape, node_label(n) + ": channels not divisible by groups");
  const int64_t b = xs[0], c = xs[1], spatial = numel(xs) / (xs[0] * xs[1]);
  const void* x = env.tensor(n.inputs[0]);
  const void* res = n.inputs.size() >= 2 ? env.tensor(n.inputs[1]) : nullptr;
  const void* g = env.weight(n, "weight");
  const void* bt = env.weight(n, "bias");
  VIT_CHECK(g && bt, Argument, node_label(n) + ": needs weight and bias");
  void* y = env.tensor(n.output);
  const float eps = static_cast<float>(n.attr("eps"));
  const bool relu = n.iattr("act") == 1;
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, group_norm_cuda<T>(static_cast<const T*>(x), static_cast<const T*>(g),
                                              static_cast<const T*>(bt), static_cast<const T*>(res), static_cast<T*>(y),
                                              b, c, spatial, groups, eps, relu, s));
  };
}

StepFn op_relu(OpEnv& env, const Node& n) {
  const int64_t total = numel(env.shape(n.output));
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    if (total <= 0) return;
    VIT_DISPATCH_DTYPE(dt, relu_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(static_cast<const T*>(x),
                                                                             static_cast<T*>(y), total));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

StepFn op_pool2d(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  VIT_CHECK(xs.size() == 4 && ys.size() == 4, Shape, node_label(n) + ": expects x[B,C,H,W]");
  const int h = static_cast<int>(xs[2]), w = static_cast<int>(xs[3]), oh = static_cast<int>(ys[2]),
            ow = static_cast<int>(ys[3]);
  const int k = n.iattr("kernel"), stride = n.iattr("stride"), pt = n.iattr("pad_t"), pl = n.iattr("pad_l");
  const int64_t total = numel(ys);
  const bool is_max = n.op == OpKind::MaxPool2d;
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    if (total <= 0) return;
    VIT_DISPATCH_DTYPE(dt, {
      if (is_max)
        pool2d_kernel<T, true><<<grid_for(total, 256), 256, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(y), total,
                                                                    h, w, oh, ow, k, stride, pt, pl);
      else
        pool2d_kernel<T, false><<<grid_for(total, 256), 256, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                     total, h, w, oh, ow, k, stride, pt, pl);
    });
    VIT_CUDA_LAUNCH_CHECK();
  };
}

}  // namespace vit::cuda
