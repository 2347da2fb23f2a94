// Multi-head attention on the packed qkv output. Work is split into (batch, head, query block) tasks so that
// there are enough equal tasks for every thread even at batch 1 (deit_tiny has 3 heads); each task keeps its
// rows x T scores in cache between the two products. oneDNN's sgemm runs single-threaded inside the region.
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cstdlib>

#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

int64_t attention_query_blocks(int64_t b, int64_t q, int64_t heads, int threads) {
  if (const char* e = std::getenv("VITNODE_ATTN_QB")) return std::max(1, std::atoi(e));
  if (threads <= 1) return 1;
  // Enough tasks for ~4 per thread, in a multiple of the thread count, with blocks of at least 16 rows.
  const int64_t base = b * heads;
  int64_t n = 1;
  while (n * 16 < q && (base * n < 4 * threads || (base * n) % threads != 0)) ++n;
  return n;
}

// The scores are scaled in the GEMM (alpha): q.k * scale. timm's modern q * scale before q.k is the same product up
// to one rounding (within the float32 tolerance), so both eras share it.
void attention_ws(const float* qkv, float* out, int64_t b, int64_t t, int64_t q_rows, int64_t d, int64_t heads,
                  float scale, int64_t qblocks, float* scratch) {
  const int64_t hd = d / heads, ld = 3 * d;
  const int64_t rows_per = (q_rows + qblocks - 1) / qblocks;
#pragma omp for schedule(dynamic, 1)
  for (int64_t task = 0; task < b * heads * qblocks; ++task) {
    const int64_t qb = task % qblocks, bh = task / qblocks;
    const int64_t bi = bh / heads, h = bh % heads;
    const int64_t r0 = qb * rows_per, rows = std::min(q_rows, r0 + rows_per) - r0;
    if (rows <= 0) continue;
    float* s = scratch + static_cast<int64_t>(omp_get_thread_num()) * rows_per * t;
    const float* base = qkv + bi * t * ld + h * hd;
    const float* q = base + r0 * ld;
    const float* k = base + d;
    const float* v = base + 2 * d;
    dnnl_sgemm('N', 'T', rows, t, hd, scale, q, ld, k, ld, 0.f, s, t);
    for (int64_t r = 0; r < rows; ++r) softmax_row(s + r * t, t);
    dnnl_sgemm('N', 'N', rows, hd, t, 1.f, s, t, v, ld, 0.f, out + (bi * q_rows + r0) * d + h * hd, d);
  }
}

namespace {

// Inside the executor's parallel regions: every thread of the region calls run_ws.
class AttentionStep : public Step {
 public:
  AttentionStep(const Env& env, const Node& n)
      : Step(env, n), qkv_(env.tensor(n.inputs[0])), out_(env.tensor(n.output)), x_(env.shape(n.inputs[0])),
        q_(env.shape(n.output)[1]), heads_(n.iattr("heads")), scale_(static_cast<float>(n.attr("scale"))) {}
  bool worksharing() const override { return true; }
  size_t scratch_bytes(int threads) const override { return sizeof(float) * threads * x_[1] * x_[1]; }
  void run_ws(int threads, void* scratch) override {
    attention_ws(qkv_, out_, x_[0], x_[1], q_, x_[2] / 3, heads_, scale_,
                 attention_query_blocks(x_[0], q_, heads_, threads), static_cast<float*>(scratch));
  }

 private:
  const float* qkv_;
  float* out_;
  std::vector<int64_t> x_;
  int64_t q_, heads_;
  float scale_;
};

}  // namespace

std::unique_ptr<Step> make_attention(const Env& env, const Node& n) { return std::make_unique<AttentionStep>(env, n); }

}  // namespace vit::cpu
