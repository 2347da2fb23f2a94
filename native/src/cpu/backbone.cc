// The CNN-backbone kernels of hybrid ViTs (NCHW, float32): GroupNorm (+ residual, + ReLU), ReLU, max / avg
// pooling with explicit padding. Convolutions go through oneDNN (dnnl-conv.h).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/dnnl-conv.h"
#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

namespace {

// Sum of x[i] - shift over n values: 32 float32 lanes within chunks of 4096 values, chunk totals in float64.
// A plain float64 loop is one dependent add per value (~4 cycles each); this is as accurate at these sizes
// (each lane adds <= 128 values) and runs at vector speed.
double sum_shifted(const float* x, int64_t n, float shift, bool squared) {
  constexpr int64_t kChunk = 4096;
  const __m256 vs = _mm256_set1_ps(shift);
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t c1 = std::min(n, c0 + kChunk);
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = c0;
    for (; i + 32 <= c1; i += 32)
      for (int k = 0; k < 4; ++k) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * k), vs);
        a[k] = squared ? _mm256_fmadd_ps(d, d, a[k]) : _mm256_add_ps(a[k], d);
      }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));
    double part = 0;
    for (float v : lanes) part += v;
    for (; i < c1; ++i) part += squared ? double(x[i] - shift) * (x[i] - shift) : double(x[i] - shift);
    total += part;
  }
  return total;
}

}  // namespace

void group_norm(const float* x, const float* gamma, const float* beta, const float* residual, float* y, int64_t b,
                int64_t c, int64_t spatial, int64_t groups, float eps, bool relu, int threads) {
  const int64_t cg = c / groups;
  const int64_t n = cg * spatial;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t bg = 0; bg < b * groups; ++bg) {
    const int64_t off = bg * n;  // a group's channels are contiguous in NCHW
    const float* xs = x + off;
    // Two passes (mean, then squared deviations from it): no cancellation, as torch's GroupNorm.
    const double mean = sum_shifted(xs, n, 0.f, false) / n;
    const float m = static_cast<float>(mean);
    const double var = sum_shifted(xs, n, m, true) / n;
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    const int64_t c0 = (bg % groups) * cg;
    for (int64_t ci = 0; ci < cg; ++ci) {
      const float sc = rstd * gamma[c0 + ci];
      const float sh = beta[c0 + ci] - m * sc;
      const float* xr = xs + ci * spatial;
      float* yr = y + off + ci * spatial;
      const float* rr = residual ? residual + off + ci * spatial : nullptr;
      if (rr && relu) {
        for (int64_t i = 0; i < spatial; ++i) yr[i] = std::max(0.f, xr[i] * sc + sh + rr[i]);
      } else if (rr) {
        for (int64_t i = 0; i < spatial; ++i) yr[i] = xr[i] * sc + sh + rr[i];
      } else if (relu) {
        for (int64_t i = 0; i < spatial; ++i) yr[i] = std::max(0.f, xr[i] * sc + sh);
      } else {
        for (int64_t i = 0; i < spatial; ++i) yr[i] = xr[i] * sc + sh;
      }
    }
  }
}

void relu(const float* x, float* y, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = std::max(0.f, x[i]);
}

void pool2d(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t k,
            int64_t stride, int64_t pad_t, int64_t pad_l, bool max, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * h * w;
    float* yp = y + p * oh * ow;
    for (int64_t oi = 0; oi < oh; ++oi) {
      const int64_t i0 = std::max<int64_t>(oi * stride - pad_t, 0), i1 = std::min(oi * stride - pad_t + k, h);
      for (int64_t oj = 0; oj < ow; ++oj) {
        const int64_t j0 = std::max<int64_t>(oj * stride - pad_l, 0), j1 = std::min(oj * stride - pad_l + k, w);
        if (max) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = j0; j < j1; ++j) m = std::max(m, xp[i * w + j]);
          yp[oi * ow + oj] = m;
        } else {
          float s = 0;
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = j0; j < j1; ++j) s += xp[i * w + j];
          const int64_t cnt = (i1 - i0) * (j1 - j0);
          yp[oi * ow + oj] = cnt > 0 ? s / static_cast<float>(cnt) : 0.f;
        }
      }
    }
  }
}

std::unique_ptr<Step> make_conv2d(const Env& env, const Node& n) {
  auto conv = std::make_shared<DnnlConv>(*env.weights, n, env.shape(n.inputs[0]), env.shape(n.output));
  const float* x = env.tensor(n.inputs[0]);
  const float* res = n.inputs.size() == 2 ? env.tensor(n.inputs[1]) : nullptr;
  float* y = env.tensor(n.output);
  return serial_step(env, n, [=](dnnl::stream& s, int, void* scratch) { conv->run(s, x, y, res, scratch); },
                     conv->scratch_bytes());
}

std::unique_ptr<Step> make_group_norm(const Env& env, const Node& n) {
  const auto xs = env.shape(n.inputs[0]);
  const float* x = env.tensor(n.inputs[0]);
  const float* res = n.inputs.size() == 2 ? env.tensor(n.inputs[1]) : nullptr;
  float* y = env.tensor(n.output);
  const float *g = env.weight(n, "weight"), *b = env.weight(n, "bias");
  const int64_t groups = n.iattr("groups");
  const float eps = static_cast<float>(n.attr("eps"));
  const bool relu = n.iattr("act") == 1;
  return serial_step(env, n, [=](dnnl::stream&, int threads, void*) {
    group_norm(x, g, b, res, y, xs[0], xs[1], numel(xs) / (xs[0] * xs[1]), groups, eps, relu, threads);
  });
}

std::unique_ptr<Step> make_relu(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t d = env.shape(n.output).back();
  return row_step(env, n, [=](int64_t r0, int64_t r1) { relu(x + r0 * d, y + r0 * d, (r1 - r0) * d, 1); });
}

std::unique_ptr<Step> make_pool2d(const Env& env, const Node& n) {
  const auto xs = env.shape(n.inputs[0]), ys = env.shape(n.output);
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t k = n.iattr("kernel"), s = n.iattr("stride"), pt = n.iattr("pad_t"), pl = n.iattr("pad_l");
  const bool max = n.op == OpKind::MaxPool2d;
  return serial_step(env, n, [=](dnnl::stream&, int threads, void*) {
    pool2d(x, y, xs[0] * xs[1], xs[2], xs[3], ys[2], ys[3], k, s, pt, pl, max, threads);
  });
}

}  // namespace vit::cpu
