// Multi-head attention on the packed qkv output, one (batch, head) pair per task so the T x T scores of a
// head stay in cache. oneDNN's sgemm runs single-threaded inside the parallel region.
#include <dnnl.hpp>
#include <omp.h>

#include "cpu/ops.h"

namespace vit::cpu {

void attention(const float* qkv, float* out, int64_t b, int64_t t, int64_t d, int64_t heads, float scale,
               bool scale_q, float* scratch, int threads) {
  const int64_t hd = d / heads, ld = 3 * d;
  // Scaling the scores in the GEMM (alpha) equals timm's scale-q-first up to one rounding; both orders are
  // within the float32 tolerance, so scale_q only matters on backends that round q separately.
  (void)scale_q;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t task = 0; task < b * heads; ++task) {
    const int64_t bi = task / heads, h = task % heads;
    float* s = scratch + static_cast<int64_t>(omp_get_thread_num()) * t * t;
    const float* q = qkv + bi * t * ld + h * hd;
    const float* k = q + d;
    const float* v = q + 2 * d;
    dnnl_sgemm('N', 'T', t, t, hd, scale, q, ld, k, ld, 0.f, s, t);
    for (int64_t r = 0; r < t; ++r) softmax_row(s + r * t, t);
    dnnl_sgemm('N', 'N', t, hd, t, 1.f, s, t, v, ld, 0.f, out + bi * t * d + h * hd, d);
  }
}

}  // namespace vit::cpu
