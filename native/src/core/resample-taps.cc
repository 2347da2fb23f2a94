// Resampling taps: F.interpolate's weights, bilinear align_corners=False; bicubic a=-0.75 (clamped taps);
// antialiased bicubic (PIL kernel a=-0.5, support scaled when shrinking).
#include "vit/resample-taps.h"

#include <algorithm>
#include <cmath>

namespace vit {

namespace {

double cubic(double x, double a) {
  x = std::fabs(x);
  if (x <= 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

}  // namespace

Taps resample_taps(int64_t in, int64_t out, Resample mode) {
  Taps t;
  t.first.resize(out);
  t.w.resize(out);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t i = 0; i < out; ++i) {
    std::vector<double> w(in, 0.0);  // dense then trimmed: sizes here are grids (<= a few hundred)
    if (mode == Resample::Bilinear) {
      double src = std::max(scale * (i + 0.5) - 0.5, 0.0);
      int64_t i0 = static_cast<int64_t>(std::floor(src));
      int64_t i1 = std::min(i0 + 1, in - 1);
      double f = src - i0;
      w[i0] += 1.0 - f;
      w[i1] += f;
    } else if (mode == Resample::Bicubic) {
      double src = scale * (i + 0.5) - 0.5;
      int64_t f0 = static_cast<int64_t>(std::floor(src));
      double f = src - f0;
      const double k[4] = {cubic(f + 1.0, -0.75), cubic(f, -0.75), cubic(1.0 - f, -0.75), cubic(2.0 - f, -0.75)};
      for (int j = 0; j < 4; ++j) w[std::clamp<int64_t>(f0 - 1 + j, 0, in - 1)] += k[j];
    } else {
      const double support_scale = std::max(scale, 1.0);
      const double support = 2.0 * support_scale;
      const double center = scale * (i + 0.5);
      int64_t xmin = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
      int64_t xmax = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
      double total = 0.0;
      for (int64_t j = xmin; j < xmax; ++j) {
        w[j] = cubic((j - center + 0.5) / support_scale, -0.5);
        total += w[j];
      }
      if (total != 0.0)
        for (int64_t j = xmin; j < xmax; ++j) w[j] /= total;
    }
    int64_t lo = 0, hi = in - 1;
    while (lo < hi && w[lo] == 0.0) ++lo;
    while (hi > lo && w[hi] == 0.0) --hi;
    t.first[i] = lo;
    t.w[i].assign(w.begin() + lo, w.begin() + hi + 1);
  }
  return t;
}

}  // namespace vit
