#include <cmath>

#include "cpu/ops.h"

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

}  // namespace vit::cpu
