// PosResample: pos[B, p + oh*ow, D] -> [B, p + h*w, D], prefix rows copied, the grid resampled with
// PyTorch's F.interpolate weights: the 1-D taps are the CPU's (vit/resample-taps.h, float64 on the host, once
// per program); the kernel applies both passes at once in float32.
#include <memory>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/ops.cuh"
#include "vit/resample-taps.h"

namespace vit::cuda {

namespace {

// The shared float64 taps (vit/resample-taps.h) as the kernel's flat int / float32 arrays.
void append_taps(int64_t in, int64_t out, int mode, std::vector<int>& first, std::vector<int>& count,
                 std::vector<int>& offset, std::vector<float>& weights) {
  const Taps t = resample_taps(in, out, static_cast<Resample>(mode));
  for (int64_t i = 0; i < out; ++i) {
    first.push_back(static_cast<int>(t.first[i]));
    count.push_back(static_cast<int>(t.w[i].size()));
    offset.push_back(static_cast<int>(weights.size()));
    for (double v : t.w[i]) weights.push_back(static_cast<float>(v));
  }
}

}  // namespace

// taps: [first_y(h) count_y(h) off_y(h) first_x(w) count_x(w) off_x(w)] ints, then the float weights.
template <typename T>
__global__ void pos_resample_kernel(const T* __restrict__ x, T* __restrict__ y, const int* __restrict__ taps,
                                    const float* __restrict__ wts, int64_t bsz, int prefix, int oh, int ow, int h,
                                    int w, int64_t d) {
  const int64_t tin = prefix + (int64_t)oh * ow, tout = prefix + (int64_t)h * w;
  const int64_t total = bsz * tout * d;
  const int* fy = taps;
  const int* cy = taps + h;
  const int* oy = taps + 2 * h;
  const int* fx = taps + 3 * h;
  const int* cx = fx + w;
  const int* ox = fx + 2 * w;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t j = i % d, t = (i / d) % tout, b = i / (d * tout);
    const T* xb = x + b * tin * d;
    if (t < prefix) {
      y[i] = xb[t * d + j];
      continue;
    }
    const int r = static_cast<int>((t - prefix) / w), c = static_cast<int>((t - prefix) % w);
    float acc = 0.f;
    for (int a = 0; a < cy[r]; ++a) {
      const float wy = wts[oy[r] + a];
      const T* row = xb + (prefix + (int64_t)(fy[r] + a) * ow) * d + j;
      float racc = 0.f;
      for (int e = 0; e < cx[c]; ++e) racc += wts[ox[c] + e] * to_f<T>(row[(int64_t)(fx[c] + e) * d]);
      acc += wy * racc;
    }
    y[i] = from_f<T>(acc);
  }
}

StepFn op_pos_resample(OpEnv& env, const Node& n) {
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ys = env.shape(n.output);
  const int prefix = n.iattr("prefix"), oh = n.iattr("old_h"), ow = n.iattr("old_w");
  const int h = n.iattr("h"), w = n.iattr("w"), mode = n.iattr("mode");
  VIT_CHECK(mode >= 0 && mode <= 2, Unsupported, node_label(n) + ": unknown resample mode " + std::to_string(mode));
  VIT_CHECK(xs.size() == 3 && xs[1] == prefix + (int64_t)oh * ow && ys[1] == prefix + (int64_t)h * w && oh > 0 &&
                ow > 0 && h > 0 && w > 0,
            Shape, node_label(n) + ": shapes do not match prefix/old_h/old_w/h/w");
  std::vector<int> fy, cy, oy, fx, cx, ox;
  std::vector<float> wts;
  append_taps(oh, h, mode, fy, cy, oy, wts);
  append_taps(ow, w, mode, fx, cx, ox, wts);
  std::vector<int> ints;
  for (auto* v : {&fy, &cy, &oy, &fx, &cx, &ox}) ints.insert(ints.end(), v->begin(), v->end());
  const size_t ib = ints.size() * sizeof(int), wb = wts.size() * sizeof(float);
  auto buf = std::make_shared<DeviceBuffer>(*env.ctx, ib + wb + 16, "resample taps of " + n.name);
  VIT_CUDA_CHECK_CTX(cudaMemcpy(buf->get(), ints.data(), ib, cudaMemcpyHostToDevice), node_label(n));
  const size_t woff = (ib + 15) / 16 * 16;
  VIT_CUDA_CHECK_CTX(cudaMemcpy(static_cast<char*>(buf->get()) + woff, wts.data(), wb, cudaMemcpyHostToDevice),
                     node_label(n));
  env.keep->push_back(buf);
  const int* taps = static_cast<const int*>(buf->get());
  const float* wdev = reinterpret_cast<const float*>(static_cast<const char*>(buf->get()) + woff);
  const void* x = env.tensor(n.inputs[0]);
  void* y = env.tensor(n.output);
  const int64_t bsz = xs[0], d = xs[2], total = numel(ys);
  const DType dt = env.dtype;
  return [=](cudaStream_t s) {
    VIT_DISPATCH_DTYPE(dt, pos_resample_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                               static_cast<const T*>(x), static_cast<T*>(y), taps, wdev, bsz, prefix, oh, ow, h, w, d));
    VIT_CUDA_LAUNCH_CHECK();
  };
}

}  // namespace vit::cuda
