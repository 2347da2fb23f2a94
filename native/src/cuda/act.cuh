// Activations by code (vit/act.h) in float32 device math, and the host switch that turns a runtime code into the
// compile-time ACT of a kernel template. Used by linear's epilogue pass, the act op and glu.
#pragma once
#include <string>

#include "cuda/common.cuh"
#include "vit/act.h"

namespace vit::cuda {

#ifdef __CUDACC__
template <int ACT>
__device__ __forceinline__ float act_f(float v) {
  if (ACT == int(Act::Gelu)) return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
  if (ACT == int(Act::Tanh)) return tanhf(v);
  if (ACT == int(Act::GeluTanh)) return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  if (ACT == int(Act::QuickGelu)) return v / (1.f + expf(-kQuickGeluAlpha * v));
  if (ACT == int(Act::Silu)) return v / (1.f + expf(-v));
  if (ACT == int(Act::Relu)) return fmaxf(v, 0.f);
  if (ACT == int(Act::Sigmoid)) return 1.f / (1.f + expf(-v));
  return v;
}
#endif

}  // namespace vit::cuda

// Calls the statement with `constexpr int ACT` = act (0..kActMax); an unknown code throws Unsupported.
#define VIT_DISPATCH_ACT(act, ...)                                                                   \
  switch (act) {                                                                                     \
    case 0: { constexpr int ACT = 0; __VA_ARGS__; break; }                                           \
    case 1: { constexpr int ACT = 1; __VA_ARGS__; break; }                                           \
    case 2: { constexpr int ACT = 2; __VA_ARGS__; break; }                                           \
    case 3: { constexpr int ACT = 3; __VA_ARGS__; break; }                                           \
    case 4: { constexpr int ACT = 4; __VA_ARGS__; break; }                                           \
    case 5: { constexpr int ACT = 5; __VA_ARGS__; break; }                                           \
    case 6: { constexpr int ACT = 6; __VA_ARGS__; break; }                                           \
    case 7: { constexpr int ACT = 7; __VA_ARGS__; break; }                                           \
    default: ::vit::fail(::vit::ErrorCode::Unsupported, "unknown act " + std::to_string(act));       \
  }
static_assert(vit::kActMax == 7, "VIT_DISPATCH_ACT lists every act code");
