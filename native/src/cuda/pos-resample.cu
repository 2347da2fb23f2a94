// PosResample: pos[B, p + oh*ow, D] -> [B, p + h*w, D], prefix rows copied, the grid resampled with
// PyTorch's F.interpolate weights (timm-vit-spec.md §3.4): bilinear align_corners=False, antialiased bicubic
// (PIL kernel a = -0.5, support scaled when shrinking), plain bicubic (a = -0.75, clamped taps). The 1-D
// taps are computed once on the host in double; the kernel applies both passes at once in float32.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/ops.cuh"

namespace vit::cuda {

namespace {

double cubic(double x, double a) {
  x = std::fabs(x);
  if (x <= 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Dense per-output weights over the input (grids are small), trimmed to [first, first + count).
void taps_1d(int64_t in, int64_t out, int mode, std::vector<int>& first, std::vector<int>& count,
             std::vector<int>& offset, std::vector<float>& weights) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t i = 0; i < out; ++i) {
    std::vector<double> w(in, 0.0);
    if (mode == 0) {
      const double src = std::max(scale * (i + 0.5) - 0.5, 0.0);
      const int64_t i0 = static_cast<int64_t>(std::floor(src)), i1 = std::min(i0 + 1, in - 1);
      const double f = src - i0;
      w[i0] += 1.0 - f;
      w[i1] += f;
    } else if (mode == 2) {
      const double src = scale * (i + 0.5) - 0.5;
      const int64_t f0 = static_cast<int64_t>(std::floor(src));
      const double f = src - f0;
      const double k[4] = {cubic(f + 1.0, -0.75), cubic(f, -0.75), cubic(1.0 - f, -0.75), cubic(2.0 - f, -0.75)};
      for (int j = 0; j < 4; ++j) w[std::clamp<int64_t>(f0 - 1 + j, 0, in - 1)] += k[j];
    } else {
      const double ss = std::max(scale, 1.0), support = 2.0 * ss, center = scale * (i + 0.5);
      const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
      const int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
      double total = 0.0;
      for (int64_t j = xmin; j < xmax; ++j) total += (w[j] = cubic((j - center + 0.5) / ss, -0.5));
      if (total != 0.0)
        for (int64_t j = xmin; j < xmax; ++j) w[j] /= total;
    }
    int64_t lo = 0, hi = in - 1;
    while (lo < hi && w[lo] == 0.0) ++lo;
    while (hi > lo && w[hi] == 0.0) --hi;
    first.push_back(static_cast<int>(lo));
    count.push_back(static_cast<int>(hi - lo + 1));
    offset.push_back(static_cast<int>(weights.size()));
    for (int64_t j = lo; j <= hi; ++j) weights.push_back(static_cast<float>(w[j]));
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
  const int prefix = n.iattr("prefix", 0), oh = n.iattr("old_h", 0), ow = n.iattr("old_w", 0);
  const int h = n.iattr("h", 0), w = n.iattr("w", 0), mode = n.iattr("mode", 0);
  VIT_CHECK(mode >= 0 && mode <= 2, Unsupported, node_label(n) + ": unknown resample mode " + std::to_string(mode));
  VIT_CHECK(xs.size() == 3 && xs[1] == prefix + (int64_t)oh * ow && ys[1] == prefix + (int64_t)h * w && oh > 0 &&
                ow > 0 && h > 0 && w > 0,
            Shape, node_label(n) + ": shapes do not match prefix/old_h/old_w/h/w");
  std::vector<int> fy, cy, oy, fx, cx, ox;
  std::vector<float> wts;
  taps_1d(oh, h, mode, fy, cy, oy, wts);
  taps_1d(ow, w, mode, fx, cx, ox, wts);
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
