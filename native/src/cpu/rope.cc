// Rotary position embedding (timm eva.py apply_rot_embed_cat): rows of x[B, T, W], q / k column blocks rotated per
// head with a [Ht, T - start, 2*hd] = [sin | cos] table; single-threaded, the executor splits rows.
#include <cstring>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

void rope_rows(const float* x, float* y, int64_t row0, int64_t rows, const RopeArgs& a) {
  const int64_t hd = a.hd, d = a.heads * hd, half = hd / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * a.width;
    float* yr = y + r * a.width;
    std::memcpy(yr, xr, a.width * sizeof(float));
    const int64_t t = (row0 + r) % a.tokens;
    if (t < a.start) continue;
    const int64_t n = t - a.start;
    for (int64_t s = 0; s < a.sections; ++s) {
      for (int64_t h = 0; h < a.heads; ++h) {
        const float* sn = a.table + ((a.table_heads == 1 ? 0 : h) * (a.tokens - a.start) + n) * 2 * hd;
        const float* cs = sn + hd;
        const float* xs = xr + s * d + h * hd;
        float* ys = yr + s * d + h * hd;
        if (a.rotate_half) {
          for (int64_t j = 0; j < half; ++j) {
            const float x0 = xs[j], x1 = xs[j + half];
            ys[j] = x0 * cs[j] - x1 * sn[j];
            ys[j + half] = x1 * cs[j + half] + x0 * sn[j + half];
          }
        } else {
          for (int64_t j = 0; j < hd; j += 2) {
            const float x0 = xs[j], x1 = xs[j + 1];
            ys[j] = x0 * cs[j] - x1 * sn[j];
            ys[j + 1] = x1 * cs[j + 1] + x0 * sn[j + 1];
          }
        }
      }
    }
  }
}

std::unique_ptr<Step> make_rope(const Env& env, const Node& n) {
  const float* x = env.tensor(n.inputs[0]);
  float* y = env.tensor(n.output);
  const auto& xs = env.shape(n.inputs[0]);
  const auto& ts = env.weights->shape(*n.weight("table"));
  RopeArgs a;
  a.table = env.weight(n, "table");
  a.table_heads = ts[0];
  a.hd = ts[2] / 2;
  a.heads = n.iattr("heads");
  a.sections = n.iattr("sections");
  a.start = n.iattr("start");
  a.rotate_half = n.iattr("half") != 0;
  a.tokens = xs[1];
  a.width = xs[2];
  return row_step(env, n, [=](int64_t r0, int64_t r1) { rope_rows(x + r0 * a.width, y + r0 * a.width, r0, r1 - r0, a); });
}

}  // namespace vit::cpu
