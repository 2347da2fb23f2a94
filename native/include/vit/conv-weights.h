// The weights a conv2d node really multiplies with: weight standardisation (timm StdConv2d / StdConv2dSame, with
// the formula of the model's era) and a following BatchNorm folded in. Computed once per weight store in double
// precision from the stored timm tensors (which stay untouched under their state_dict keys) and cached in
// WeightStore::caches, so every backend and every program of a model shares one copy.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "vit/graph.h"
#include "vit/weights.h"

namespace vit {

struct ConvWeights {
  std::vector<int64_t> shape;  // [O, C, kh, kw]
  std::vector<float> weight;   // O*C*kh*kw, row-major like the stored weight
  std::vector<float> bias;     // O entries, or empty when the conv has neither bias nor BatchNorm
};

// True when the node's weight is used as stored (no standardisation, no BatchNorm).
bool conv_weights_plain(const Node& n);
// The effective weight and bias of a conv2d node (see OpKind::Conv2d). Thread-safe.
std::shared_ptr<const ConvWeights> conv_weights(WeightStore& store, const Node& n);
// The cache key of a node's effective weights: equal keys mean equal transformed tensors.
std::string conv_weights_key(const Node& n);

}  // namespace vit
