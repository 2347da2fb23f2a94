// Multi-head attention over q, k, v rows given by pointers and strides: the packed qkv output, or separate q / kv
// tensors, read in place. Work is split into (batch, head, query block) tasks so that there are enough equal tasks
// for every thread even at batch 1 (deit_tiny has 3 heads); each task keeps its rows x T scores in cache between
// the two products. oneDNN's sgemm runs single-threaded inside the region.
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

AttentionOperands attention_packed(const float* qkv, float* out, int64_t t, int64_t q_rows, int64_t d) {
  const int64_t ld = 3 * d, bs = t * ld;
  return {qkv, ld, bs, qkv + d, ld, bs, qkv + 2 * d, ld, bs, out, q_rows * d};
}

AttentionOperands attention_split(const float* q, int64_t q_batch, const float* k, const float* v, int64_t kv_ld,
                                  float* out, int64_t t, int64_t q_rows, int64_t d) {
  return {q, d, q_batch == 1 ? 0 : q_rows * d, k, kv_ld, t * kv_ld, v, kv_ld, t * kv_ld, out, q_rows * d};
}

int64_t attention_scratch_floats(int64_t t, int64_t q_rows, int64_t qblocks, int threads) {
  return static_cast<int64_t>(threads) * ((q_rows + qblocks - 1) / qblocks) * t;
}

// The scores are scaled in the GEMM (alpha): q.k * scale. timm's modern q * scale before q.k is the same product up
// to one rounding (within the float32 tolerance), so both eras share it.
void attention_ws(const AttentionOperands& a, int64_t b, int64_t t, int64_t q_rows, int64_t d, int64_t heads,
                  float scale, int64_t qblocks, float* scratch) {
  const int64_t hd = d / heads;
  const int64_t rows_per = (q_rows + qblocks - 1) / qblocks;
#pragma omp for schedule(dynamic, 1)
  for (int64_t task = 0; task < b * heads * qblocks; ++task) {
    const int64_t qb = task % qblocks, bh = task / qblocks;
    const int64_t bi = bh / heads, h = bh % heads;
    const int64_t r0 = qb * rows_per, rows = std::min(q_rows, r0 + rows_per) - r0;
    if (rows <= 0) continue;
    float* s = scratch + static_cast<int64_t>(omp_get_thread_num()) * rows_per * t;
    const float* q = a.q + bi * a.q_bs + r0 * a.q_ld + h * hd;
    const float* k = a.k + bi * a.k_bs + h * hd;
    const float* v = a.v + bi * a.v_bs + h * hd;
    dnnl_sgemm('N', 'T', rows, t, hd, scale, q, a.q_ld, k, a.k_ld, 0.f, s, t);
    for (int64_t r = 0; r < rows; ++r) softmax_row(s + r * t, t);
    dnnl_sgemm('N', 'N', rows, hd, t, 1.f, s, t, v, a.v_ld, 0.f, a.out + bi * a.out_bs + r0 * d + h * hd, d);
  }
}

namespace {

// Inside the executor's parallel regions: every thread of the region calls run_ws. The operands are read in place:
// packed qkv, or q with kv (k | v) or with k and v.
class AttentionStep : public Step {
 public:
  AttentionStep(const Env& env, const Node& n)
      : Step(env, n), heads_(n.iattr("heads")), scale_(static_cast<float>(n.attr("scale"))) {
    const auto& y = env.shape(n.output);
    b_ = y[0], q_ = y[1], d_ = y[2];
    const float* x = env.tensor(n.inputs[0]);
    float* out = env.tensor(n.output);
    if (n.inputs.size() == 1) {
      t_ = env.shape(n.inputs[0])[1];
      ops_ = attention_packed(x, out, t_, q_, d_);
    } else {
      t_ = env.shape(n.inputs[1])[1];
      const float* k = env.tensor(n.inputs[1]);
      const bool kv = n.inputs.size() == 2;
      ops_ = attention_split(x, env.shape(n.inputs[0])[0], k, kv ? k + d_ : env.tensor(n.inputs[2]), kv ? 2 * d_ : d_,
                             out, t_, q_, d_);
    }
  }
  bool worksharing() const override { return true; }
  size_t scratch_bytes(int threads) const override {
    return sizeof(float) * attention_scratch_floats(t_, q_, qblocks(threads), threads);
  }
  void run_ws(int threads, void* scratch) override {
    attention_ws(ops_, b_, t_, q_, d_, heads_, scale_, qblocks(threads), static_cast<float*>(scratch));
  }

 private:
  int64_t qblocks(int threads) const { return attention_query_blocks(b_, q_, heads_, threads); }
  AttentionOperands ops_;
  int64_t b_, t_, q_, d_, heads_;
  float scale_;
};

}  // namespace

std::unique_ptr<Step> make_attention(const Env& env, const Node& n) { return std::make_unique<AttentionStep>(env, n); }

}  // namespace vit::cpu
