// Position-embedding resampling: the shared taps (vit/resample-taps.h) applied separably in float64.
#include <cstring>
#include <vector>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

void resample_grid(const float* x, float* y, int64_t oh, int64_t ow, int64_t h, int64_t w, int64_t d, Resample mode) {
  const Taps ty = resample_taps(oh, h, mode), tx = resample_taps(ow, w, mode);
  // Width pass into [oh, w, d] (double accumulators), then height pass.
  std::vector<double> tmp(static_cast<size_t>(oh * w * d), 0.0);
  for (int64_t r = 0; r < oh; ++r)
    for (int64_t c = 0; c < w; ++c) {
      double* dst = &tmp[(r * w + c) * d];
      for (size_t j = 0; j < tx.w[c].size(); ++j) {
        const float* src = x + (r * ow + tx.first[c] + static_cast<int64_t>(j)) * d;
        const double wt = tx.w[c][j];
        for (int64_t k = 0; k < d; ++k) dst[k] += wt * src[k];
      }
    }
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      float* dst = y + (r * w + c) * d;
      std::vector<double> acc(d, 0.0);
      for (size_t j = 0; j < ty.w[r].size(); ++j) {
        const double* src = &tmp[((ty.first[r] + static_cast<int64_t>(j)) * w + c) * d];
        const double wt = ty.w[r][j];
        for (int64_t k = 0; k < d; ++k) acc[k] += wt * src[k];
      }
      for (int64_t k = 0; k < d; ++k) dst[k] = static_cast<float>(acc[k]);
    }
}

std::unique_ptr<Step> make_pos_resample(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const int64_t p = n.iattr("prefix"), d = env.shape(n.inputs[0])[2];
  const int64_t oh = n.iattr("old_h"), ow = n.iattr("old_w"), h = n.iattr("h"), w = n.iattr("w");
  const auto mode = static_cast<Resample>(n.iattr("mode"));
  return serial_step(env, n, [=](dnnl::stream&, int, void*) {
    std::memcpy(y, x, p * d * sizeof(float));
    resample_grid(x + p * d, y + p * d, oh, ow, h, w, d, mode);
  });
}

}  // namespace vit::cpu
