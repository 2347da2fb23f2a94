#include "vit/conv-weights.h"

#include <cmath>
#include <sstream>

#include "vit/error.h"

namespace vit {

namespace {
const char* const kBnRoles[] = {"bn_weight", "bn_bias", "bn_mean", "bn_var"};
}

bool conv_weights_plain(const Node& n) { return n.iattr("ws") == 0 && !n.weight("bn_weight"); }

std::string conv_weights_key(const Node& n) {
  std::ostringstream k;
  k.precision(17);
  k << "conv:" << *n.weight("weight") << "|ws" << n.iattr("ws") << ":" << n.attr("ws_eps");
  if (const std::string* b = n.weight("bias")) k << "|b:" << *b;
  if (n.weight("bn_weight")) {
    for (const char* r : kBnRoles) k << "|" << *n.weight(r);
    k << ":" << n.attr("bn_eps");
  }
  return k.str();
}

std::shared_ptr<const ConvWeights> conv_weights(WeightStore& store, const Node& n) {
  const std::string key = conv_weights_key(n);
  {
    std::lock_guard<std::mutex> lock(store.cache_mutex);
    auto it = store.caches.find(key);
    if (it != store.caches.end()) return std::static_pointer_cast<const ConvWeights>(it->second);
  }
  const Weight& w = store.get(*n.weight("weight"));
  if (w.shape.size() != 4) fail(ErrorCode::Shape, "conv2d '" + n.name + "': weight must be [O, C, kh, kw]");
  auto out = std::make_shared<ConvWeights>();
  out->shape = w.shape;
  const int64_t o_ch = w.shape[0];
  const int64_t per = static_cast<int64_t>(w.size()) / o_ch;
  out->weight.resize(w.size());
  const int ws = n.iattr("ws");
  const double ws_eps = n.attr("ws_eps");
  const bool bn = n.weight("bn_weight") != nullptr;
  const double bn_eps = n.attr("bn_eps");
  const float* bias = n.weight("bias") ? store.get(*n.weight("bias")).data.get() : nullptr;
  const float *g = nullptr, *beta = nullptr, *rm = nullptr, *rv = nullptr;
  if (bn) {
    g = store.get(*n.weight("bn_weight")).data.get();
    beta = store.get(*n.weight("bn_bias")).data.get();
    rm = store.get(*n.weight("bn_mean")).data.get();
    rv = store.get(*n.weight("bn_var")).data.get();
  }
  if (bias || bn) out->bias.resize(o_ch);
  for (int64_t o = 0; o < o_ch; ++o) {
    const float* src = w.data.get() + o * per;
    double shift = 0, scale = 1;
    if (ws) {
      // Per output channel over (C, kh, kw), biased variance (timm: F.batch_norm in training mode, or
      // torch.std_mean(unbiased=False) in timm 0.4.5).
      double mean = 0;
      for (int64_t i = 0; i < per; ++i) mean += src[i];
      mean /= per;
      double var = 0;
      for (int64_t i = 0; i < per; ++i) var += (src[i] - mean) * (src[i] - mean);
      var /= per;
      shift = mean;
      scale = ws == 1 ? 1.0 / (std::sqrt(var) + ws_eps) : 1.0 / std::sqrt(var + ws_eps);
    }
    double b = bias ? bias[o] : 0.0;
    if (bn) {
      const double s = g[o] / std::sqrt(static_cast<double>(rv[o]) + bn_eps);
      scale *= s;
      b = (b - rm[o]) * s + beta[o];
    }
    float* dst = out->weight.data() + o * per;
    for (int64_t i = 0; i < per; ++i) dst[i] = static_cast<float>((src[i] - shift) * scale);
    if (!out->bias.empty()) out->bias[o] = static_cast<float>(b);
  }
  std::lock_guard<std::mutex> lock(store.cache_mutex);
  auto& slot = store.caches[key];
  if (!slot) slot = out;
  return std::static_pointer_cast<const ConvWeights>(slot);
}

}  // namespace vit
