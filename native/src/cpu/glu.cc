// Gated units: glu (one packed input, timm GluMlp / SwiGLUPacked) and mul (SwiGLU's act(fc1_g(x)) * fc1_x(x)).
// Rows stay in L1 between the passes; single-threaded, the executor splits rows.
#include <cstring>

#include "cpu/ops.h"
#include "cpu/step.h"

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

std::unique_ptr<Step> make_glu(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t h = env.shape(n.output).back();
  const Act act = static_cast<Act>(n.iattr("act"));
  const bool gate_first = n.iattr("gate_first") != 0;
  return row_step(env, n, [=](int64_t r0, int64_t r1) {
    glu_rows(x + r0 * 2 * h, y + r0 * h, r1 - r0, h, act, gate_first);
  });
}

std::unique_ptr<Step> make_mul(const Env& env, const Node& n) {
  const float *a = env.tensor(n.inputs[0]), *b = env.tensor(n.inputs[1]);
  float* y = env.tensor(n.output);
  const int64_t d = env.shape(n.output).back();
  return row_step(env, n, [=](int64_t r0, int64_t r1) { mul_rows(a + r0 * d, b + r0 * d, y + r0 * d, (r1 - r0) * d); });
}

}  // namespace vit::cpu
