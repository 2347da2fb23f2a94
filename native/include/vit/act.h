// Activation codes of the `act` attribute (linear, act, glu): part of the graph contract, shared by every backend.
// timm names: gelu (exact erf), tanh, gelu_tanh (tanh approximation), quick_gelu (x * sigmoid(1.702 x), CLIP),
// silu / swish (x * sigmoid(x)), relu, sigmoid.
#pragma once

namespace vit {

enum class Act { None = 0, Gelu = 1, Tanh = 2, GeluTanh = 3, QuickGelu = 4, Silu = 5, Relu = 6, Sigmoid = 7 };
constexpr int kActMax = 7;
constexpr float kQuickGeluAlpha = 1.702f;

}  // namespace vit
