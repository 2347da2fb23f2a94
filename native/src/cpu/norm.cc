#include <cmath>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

// Two-pass mean / biased variance per row, as F.layer_norm.
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t d,
                float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < d; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(d);
    float sq = 0.f;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < d; ++i) {
      float c = xr[i] - mean;
      sq += c * c;
    }
    const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
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

}  // namespace vit::cpu
