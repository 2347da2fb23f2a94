// Activations by code (vit/act.h) on float32 arrays, single-threaded (callers split rows across threads): the
// elementwise `act` op, glu's gate and tests. The sigmoid family runs 8 lanes at a time on exp8.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "cpu/ops.h"
#include "cpu/simd.h"
#include "cpu/step.h"
#include "vit/error.h"

namespace vit::cpu {

namespace {

// y = x * sigmoid(alpha x), or sigmoid(alpha x) alone.
template <bool kSigmoidOnly>
void sigmoid_family(float* y, int64_t n, float alpha) {
  const __m256 one = _mm256_set1_ps(1.f), na = _mm256_set1_ps(-alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(y + i);
    const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_mul_ps(na, x))));
    _mm256_storeu_ps(y + i, kSigmoidOnly ? s : _mm256_mul_ps(x, s));
  }
  for (; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-alpha * y[i]));
    y[i] = kSigmoidOnly ? s : y[i] * s;
  }
}

}  // namespace

void act_inplace(float* y, int64_t n, Act act) {
  switch (act) {
    case Act::None:
      return;
    case Act::Gelu:
      return gelu_erf_inplace(y, n);
    case Act::Tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
    case Act::GeluTanh:
      for (int64_t i = 0; i < n; ++i)
        y[i] = 0.5f * y[i] * (1.f + std::tanh(0.7978845608028654f * (y[i] + 0.044715f * y[i] * y[i] * y[i])));
      return;
    case Act::QuickGelu:
      return sigmoid_family<false>(y, n, kQuickGeluAlpha);
    case Act::Silu:
      return sigmoid_family<false>(y, n, 1.f);
    case Act::Sigmoid:
      return sigmoid_family<true>(y, n, 1.f);
    case Act::Relu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(y[i], 0.f);
      return;
  }
  fail(ErrorCode::Internal, "unknown act " + std::to_string(static_cast<int>(act)));
}

void act_rows(const float* x, float* y, int64_t n, Act act) {
  if (y != x) std::memcpy(y, x, n * sizeof(float));
  act_inplace(y, n, act);
}

std::unique_ptr<Step> make_act(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t d = env.shape(n.output).back();
  const Act act = static_cast<Act>(n.iattr("act"));
  return row_step(env, n, [=](int64_t r0, int64_t r1) { act_rows(x + r0 * d, y + r0 * d, (r1 - r0) * d, act); });
}

}  // namespace vit::cpu
