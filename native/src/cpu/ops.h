// CPU kernels, one family per file (norm.cc, attention.cc, tokens.cc, resample.cc, eltwise.cc, act.cc, glu.cc,
// backbone.cc), each file also holding its ops' step factories (step.h); GEMMs live behind the narrow oneDNN
// interface in dnnl-linear.h. All float32, row-major, OpenMP-parallel.
#pragma once
#include <cstdint>
#include <vector>

#include "vit/act.h"
#include "vit/resample-taps.h"

namespace vit::cpu {

using vit::Act;

// eltwise.cc
void softmax_row(float* x, int64_t n);                    // in place, numerically stable
void softmax_rows(float* x, int64_t rows, int64_t n, int threads);
void tanh_inplace(const float* x, float* y, int64_t n, int threads);
void gelu_erf(const float* x, float* y, int64_t n, int threads);
void gelu_erf_inplace(float* y, int64_t n);                 // AVX2, single-threaded (erf to 1.5e-7)
// Rows [row0, row1) of y = alpha * a + beta * b over rows of width d; b has b_rows rows, broadcast by r % b_rows.
void add_rows(const float* a, const float* b, float* y, int64_t row0, int64_t row1, int64_t d, int64_t b_rows,
              float alpha, float beta);

// act.cc: y = act(x) by code, single-threaded; act_rows may run in place (y == x).
void act_inplace(float* y, int64_t n, Act act);
void act_rows(const float* x, float* y, int64_t n, Act act);

// glu.cc, single-threaded. glu: x[rows, 2h] -> y[rows, h] = act(gate) * value, gate the first half when
// gate_first (timm SwiGLUPacked), else the second (timm GluMlp). mul: y = a * b over n elements.
void glu_rows(const float* x, float* y, int64_t rows, int64_t h, Act act, bool gate_first);
void mul_rows(const float* a, const float* b, float* y, int64_t n);

// norm.cc. Rows of width d; the _row forms are single rows, single-threaded; beta may be null (no bias).
void layer_norm_row(const float* x, const float* gamma, const float* beta, float* y, int64_t d, float eps);
void rms_norm_row(const float* x, const float* gamma, float* y, int64_t d, float eps);
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t d,
                float eps, int threads);
void rms_norm(const float* x, const float* gamma, float* y, int64_t rows, int64_t d, float eps);
// timm qk_norm on packed qkv rows [rows, 3d]: q and k normalised per head over d / heads (LayerNorm, or RmsNorm
// when rms; weights [d / heads], biases may be null), v copied.
struct HeadNormWeights {
  const float *q_weight, *q_bias, *k_weight, *k_bias;
  bool rms;
};
void head_norm(const float* x, float* y, int64_t rows, int64_t d, int64_t heads, const HeadNormWeights& w, float eps);

// attention.cc: per (batch item, head), out = softmax(q k^T * scale) v over T keys for Q query rows. Operands are
// pointers + row strides (ld) + batch strides (bs, 0: one item shared by the batch); head h reads columns
// [h * hd, (h + 1) * hd) of each row. out rows are D wide.
struct AttentionOperands {
  const float* q;
  int64_t q_ld, q_bs;
  const float* k;
  int64_t k_ld, k_bs;
  const float* v;
  int64_t v_ld, v_bs;
  float* out;
  int64_t out_bs;
};
// qkv[B,T,3D] (q|k|v rows, head-major) -> out[B,Q,D] for the first Q <= T query rows.
AttentionOperands attention_packed(const float* qkv, float* out, int64_t t, int64_t q_rows, int64_t d);
// q[Bq,Q,D] (Bq 1: shared by the batch, or B), k and v rows kv_ld apart (kv[B,T,2D]: k = kv, v = kv + D,
// kv_ld 2D; separate k[B,T,D], v[B,T,D]: kv_ld D) -> out[B,Q,D].
AttentionOperands attention_split(const float* q, int64_t q_batch, const float* k, const float* v, int64_t kv_ld,
                                  float* out, int64_t t, int64_t q_rows, int64_t d);
// The Q query rows are split into this many blocks per (batch, head), so that every thread gets work.
int64_t attention_query_blocks(int64_t b, int64_t q, int64_t heads, int threads);
// Scratch floats attention_ws needs for a region of `threads` threads.
int64_t attention_scratch_floats(int64_t t, int64_t q_rows, int64_t qblocks, int threads);
// The worksharing body (an orphaned `omp for`, implicit barrier at its end): call from every thread of a parallel
// region, or outside one (runs serially). scratch: attention_scratch_floats (<= T * T per thread when Q <= T).
void attention_ws(const AttentionOperands& a, int64_t b, int64_t t, int64_t q, int64_t d, int64_t heads, float scale,
                  int64_t qblocks, float* scratch);

// tokens.cc
// Patchify (conv with kernel == stride as a GEMM operand): rows [row0, row1) of cols[(b, gy, gx), (c, py, px)],
// written from cols[0]; zero padding right/bottom; single-threaded.
void patchify_rows(const float* x, float* cols, int64_t row0, int64_t row1, int64_t c, int64_t h, int64_t w,
                   int64_t p);
void concat_prefix(const float* x, const std::vector<const float*>& prefix, const std::vector<int64_t>& counts,
                   float* y, int64_t b, int64_t n, int64_t d);
void pool_tokens(const float* x, float* y, int64_t b, int64_t t, int64_t d, int mode, int64_t start, int64_t index);
void tokens_to_nchw(const float* x, float* y, int64_t b, int64_t n, int64_t d, int threads);
// x[rows, c] -> y[rows, count]: columns [start, start + count).
void slice_last_rows(const float* x, float* y, int64_t rows, int64_t c, int64_t start, int64_t count);

// rope.cc: rows [row0, row0 + rows) of x[B*T, width] (timm eva.py RoPE): the first `sections` blocks of heads*hd
// columns rotated per head for tokens t >= start with table[table_heads, tokens - start, 2*hd] = [sin | cos].
struct RopeArgs {
  const float* table = nullptr;
  int64_t table_heads = 1, hd = 0, heads = 1, sections = 1, start = 0, tokens = 1, width = 0;
  bool rotate_half = false;
};
void rope_rows(const float* x, float* y, int64_t row0, int64_t rows, const RopeArgs& a);

// resample.cc: 2-D resampling of a [h, w, d] grid (channels last), separable, with vit/resample-taps.h.
void resample_grid(const float* x, float* y, int64_t oh, int64_t ow, int64_t h, int64_t w, int64_t d, Resample mode);

// backbone.cc: hybrid CNN backbones, NCHW. group_norm: y = act(gn(x) + residual), residual may be null.
void group_norm(const float* x, const float* gamma, const float* beta, const float* residual, float* y, int64_t b,
                int64_t c, int64_t spatial, int64_t groups, float eps, bool relu, int threads);
void relu(const float* x, float* y, int64_t n, int threads);
// Max (padding = -inf) or average (over the in-image part of each window) of k x k windows; planes = B*C.
void pool2d(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t k,
            int64_t stride, int64_t pad_t, int64_t pad_l, bool max, int threads);

}  // namespace vit::cpu
