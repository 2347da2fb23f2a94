// Token bookkeeping: patchify (conv with kernel == stride as a GEMM operand), prefix concat, pooling, layouts,
// column slices.
#include <algorithm>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

// cols[(b, gy, gx), (c, py, px)]; zero padding right/bottom when h or w is not a multiple of p.
void patchify_rows(const float* x, float* cols, int64_t row0, int64_t row1, int64_t c, int64_t h, int64_t w,
                   int64_t p) {
  const int64_t gh = (h + p - 1) / p, gw = (w + p - 1) / p, k = c * p * p;
  for (int64_t r = row0; r < row1; ++r) {
    const int64_t bi = r / (gh * gw), gy = (r / gw) % gh, gx = r % gw;
    float* row = cols + (r - row0) * k;
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t py = 0; py < p; ++py) {
        const int64_t y = gy * p + py;
        float* dst = row + (ci * p + py) * p;
        const int64_t x0 = gx * p, nx = std::max<int64_t>(0, std::min(p, w - x0));
        if (y < h && nx > 0) std::memcpy(dst, x + ((bi * c + ci) * h + y) * w + x0, nx * sizeof(float));
        for (int64_t px = (y < h ? nx : 0); px < p; ++px) dst[px] = 0.f;
      }
  }
}

void concat_prefix(const float* x, const std::vector<const float*>& prefix, const std::vector<int64_t>& counts,
                   float* y, int64_t b, int64_t n, int64_t d) {
  int64_t np = 0;
  for (auto c : counts) np += c;
  for (int64_t bi = 0; bi < b; ++bi) {
    float* dst = y + bi * (np + n) * d;
    for (size_t i = 0; i < prefix.size(); ++i) {
      std::memcpy(dst, prefix[i], counts[i] * d * sizeof(float));
      dst += counts[i] * d;
    }
    std::memcpy(dst, x + bi * n * d, n * d * sizeof(float));
  }
}

// mode: 0 token (row `index`), 1 avg, 2 max, 3 avgmax = (max + avg) / 2, over tokens [start, t).
void pool_tokens(const float* x, float* y, int64_t b, int64_t t, int64_t d, int mode, int64_t start, int64_t index) {
  for (int64_t bi = 0; bi < b; ++bi) {
    const float* xb = x + bi * t * d;
    float* yb = y + bi * d;
    if (mode == 0) {
      std::memcpy(yb, xb + index * d, d * sizeof(float));
      continue;
    }
    const int64_t cnt = t - start;
    for (int64_t j = 0; j < d; ++j) {
      float s = 0.f, m = xb[start * d + j];
      for (int64_t r = start; r < t; ++r) {
        float v = xb[r * d + j];
        s += v;
        m = std::max(m, v);
      }
      const float avg = s / static_cast<float>(cnt);
      yb[j] = mode == 1 ? avg : mode == 2 ? m : 0.5f * (m + avg);
    }
  }
}

void tokens_to_nchw(const float* x, float* y, int64_t b, int64_t n, int64_t d, int threads) {
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t c = 0; c < d; ++c)
      for (int64_t i = 0; i < n; ++i) y[(bi * d + c) * n + i] = x[(bi * n + i) * d + c];
}

void slice_last_rows(const float* x, float* y, int64_t rows, int64_t c, int64_t start, int64_t count) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * count, x + r * c + start, count * sizeof(float));
}

std::unique_ptr<Step> make_concat_prefix(const Env& env, const Node& n) {
  std::vector<const float*> pre;
  std::vector<int64_t> counts;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    pre.push_back(env.tensor(n.inputs[i]));
    counts.push_back(env.shape(n.inputs[i])[1]);
  }
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const auto& ys = env.shape(n.output);
  const int64_t b = ys[0], t = env.shape(n.inputs[0])[1], d = ys[2];
  return serial_step(env, n, [=](dnnl::stream&, int, void*) { concat_prefix(x, pre, counts, y, b, t, d); });
}

std::unique_ptr<Step> make_pool(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const auto xs = env.shape(n.inputs[0]);
  const int mode = n.iattr("mode"), start = n.iattr("start"), index = n.iattr("index");
  return serial_step(env, n, [=](dnnl::stream&, int, void*) { pool_tokens(x, y, xs[0], xs[1], xs[2], mode, start, index); });
}

// Output row r copies input row (r / count) * t + start + r % count: a row gather (the executor places a barrier
// before it when the input was just written by other threads).
std::unique_ptr<Step> make_slice_tokens(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t t = env.shape(n.inputs[0])[1], start = n.iattr("start"), count = env.shape(n.output)[1];
  const int64_t d = env.shape(n.output).back();
  return row_step(env, n, [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(y + r * d, x + ((r / count) * t + start + r % count) * d, d * sizeof(float));
  });
}

std::unique_ptr<Step> make_tokens_to_nchw(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const auto xs = env.shape(n.inputs[0]);
  return serial_step(env, n, [=](dnnl::stream&, int threads, void*) { tokens_to_nchw(x, y, xs[0], xs[1], xs[2], threads); });
}

std::unique_ptr<Step> make_slice_last(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t c = env.shape(n.inputs[0]).back(), count = env.shape(n.output).back(), start = n.iattr("start");
  return row_step(env, n, [=](int64_t r0, int64_t r1) {
    slice_last_rows(x + r0 * c, y + r0 * count, r1 - r0, c, start, count);
  });
}

}  // namespace vit::cpu
