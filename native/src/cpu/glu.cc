// Gated units: glu (one packed input, timm GluMlp / SwiGLUPacked) and mul (SwiGLU's act(fc1_g(x)) * fc1_x(x)).
// Rows stay in L1 between the passes; single-threaded, the executor splits rows.
#include <cstring>

#include "cpu/ops.h"

namespace vit::cpu {

void glu_rows(const float* x, float* y, int64_t rows, int64_t h, Act act, bool gate_first) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * 2 * h;
    const float* gate = gate_first ? xr : xr + h;
    const float* val = gate_first ? xr + h : xr;
    float* yr = y + r * h;
    std::memcpy(yr, gate, h * sizeof(float));
    act_inplace(yr, h, act);
#pragma omp simd
    for (int64_t j = 0; j < h; ++j) yr[j] *= val[j];
  }
}

void mul_rows(const float* a, const float* b, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

}  // namespace vit::cpu
