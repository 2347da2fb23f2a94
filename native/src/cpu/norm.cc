#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

// Two-pass mean / biased variance, as F.layer_norm; beta may be null (no bias).
void layer_norm_row(const float* x, const float* gamma, const float* beta, float* y, int64_t d, float eps) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < d; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(d);
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < d; ++i) {
    float c = x[i] - mean;
    sq += c * c;
  }
  const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
  if (beta) {
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];
  } else {
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) y[i] = (x[i] - mean) * rstd * gamma[i];
  }
}

// timm RmsNorm: x * rsqrt(mean(x^2) + eps) * weight.
void rms_norm_row(const float* x, const float* gamma, float* y, int64_t d, float eps) {
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < d; ++i) sq += x[i] * x[i];
  const float r = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
#pragma omp simd
  for (int64_t i = 0; i < d; ++i) y[i] = x[i] * r * gamma[i];
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t d,
                float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) layer_norm_row(x + r * d, gamma, beta, y + r * d, d, eps);
}

void rms_norm(const float* x, const float* gamma, float* y, int64_t rows, int64_t d, float eps) {
  for (int64_t r = 0; r < rows; ++r) rms_norm_row(x + r * d, gamma, y + r * d, d, eps);
}

void head_norm(const float* x, float* y, int64_t rows, int64_t d, int64_t heads, const HeadNormWeights& w,
               float eps) {
  const int64_t hd = d / heads;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * 3 * d;
    float* yr = y + r * 3 * d;
    for (int s = 0; s < 2; ++s) {  // q, then k
      const float* g = s == 0 ? w.q_weight : w.k_weight;
      const float* b = s == 0 ? w.q_bias : w.k_bias;
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t off = s * d + h * hd;
        if (w.rms)
          rms_norm_row(xr + off, g, yr + off, hd, eps);
        else
          layer_norm_row(xr + off, g, b, yr + off, hd, eps);
      }
    }
    if (yr != xr) std::memcpy(yr + 2 * d, xr + 2 * d, d * sizeof(float));
  }
}

std::unique_ptr<Step> make_layer_norm(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const float *g = env.weight(n, "weight"), *b = env.weight(n, "bias");
  const int64_t d = env.shape(n.output).back();
  const float eps = static_cast<float>(n.attr("eps"));
  return row_step(env, n, [=](int64_t r0, int64_t r1) { layer_norm(x + r0 * d, g, b, y + r0 * d, r1 - r0, d, eps, 1); });
}

std::unique_ptr<Step> make_rms_norm(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const float* g = env.weight(n, "weight");
  const int64_t d = env.shape(n.output).back();
  const float eps = static_cast<float>(n.attr("eps"));
  return row_step(env, n, [=](int64_t r0, int64_t r1) { rms_norm(x + r0 * d, g, y + r0 * d, r1 - r0, d, eps); });
}

std::unique_ptr<Step> make_head_norm(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t w = env.shape(n.output).back(), heads = n.iattr("heads");
  const HeadNormWeights hw{env.weight(n, "q_weight"), env.weight(n, "q_bias"), env.weight(n, "k_weight"),
                           env.weight(n, "k_bias"), n.iattr("kind") == 1};
  const float eps = static_cast<float>(n.attr("eps"));
  return row_step(env, n, [=](int64_t r0, int64_t r1) {
    head_norm(x + r0 * w, y + r0 * w, r1 - r0, w / 3, heads, hw, eps);
  });
}

}  // namespace vit::cpu
