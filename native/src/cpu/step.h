// CPU steps: a graph node prepared once per program for the CPU executor (executor.cc). Each op's factory lives
// next to its kernels (one file per op family) and is registered in registry.cc. Which steps the executor runs
// row-parallel comes from the op table's kRowWise trait, never from a list here.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "vit/error.h"
#include "vit/program.h"

namespace dnnl {
struct stream;
}

namespace vit::cpu {

// What a factory may use: the graph, the weights, and each tensor's memory (fixed for the program's life).
struct Env {
  const Graph* graph = nullptr;
  WeightStore* weights = nullptr;
  bool bf16 = false;                   // opt-in bfloat16 GEMMs
  std::function<float*(int)> tensor;  // arena slot, or the weight a Weight node exposes

  const std::vector<int64_t>& shape(int id) const { return graph->shapes[id]; }
  const float* weight(const Node& n, const char* role) const;  // host float32, nullptr when the role is absent
};

class Step {
 public:
  virtual ~Step() = default;

  // kRowWise ops. rows(): independent output rows (default numel(y) / y.back()). prepare(parts): per-part state
  // for a part count (called once per count, single-threaded, oneDNN at one thread); run_rows: rows [r0, r1)
  // of part `part` on the calling thread.
  int64_t rows() const { return rows_; }
  virtual void prepare(int /*parts*/) {}
  virtual void run_rows(int part, int parts, int64_t r0, int64_t r1, dnnl::stream& s);

  // Worksharing steps (an orphaned `omp for` ending in a barrier) run inside the executor's parallel regions,
  // called by every thread of the region; scratch: scratch_bytes(threads) shared by the region.
  virtual bool worksharing() const { return false; }
  virtual void run_ws(int threads, void* scratch);

  // Everything else: one call with its own internal parallelism; scratch shared by all steps.
  virtual void run(dnnl::stream& s, int threads, void* scratch);
  virtual size_t scratch_bytes(int /*threads*/) const { return 0; }

 protected:
  Step(const Env& env, const Node& n);
  const Node& node_;
  int64_t rows_ = 0;
};

using RowFn = std::function<void(int64_t r0, int64_t r1)>;
using SerialFn = std::function<void(dnnl::stream& s, int threads, void* scratch)>;
// Steps from a function: row-wise (rows < 0: numel(y) / y.back()) or serial.
std::unique_ptr<Step> row_step(const Env& env, const Node& n, RowFn fn, int64_t rows = -1);
std::unique_ptr<Step> serial_step(const Env& env, const Node& n, SerialFn fn, size_t scratch_bytes = 0);

using StepFactory = std::unique_ptr<Step> (*)(const Env& env, const Node& n);

// registry.cc: the node's step (nullptr for Weight nodes, which only expose memory); Unsupported when the CPU
// backend has no kernel for the op.
std::unique_ptr<Step> make_step(const Env& env, const Node& n);
bool supports(OpKind op);

// One factory per op, defined beside the op's kernels.
std::unique_ptr<Step> make_patch_embed(const Env& env, const Node& n);  // gemm-steps.cc
std::unique_ptr<Step> make_linear(const Env& env, const Node& n);       // gemm-steps.cc
std::unique_ptr<Step> make_layer_norm(const Env& env, const Node& n);   // norm.cc
std::unique_ptr<Step> make_add(const Env& env, const Node& n);          // eltwise.cc
std::unique_ptr<Step> make_tanh(const Env& env, const Node& n);         // eltwise.cc
std::unique_ptr<Step> make_gelu(const Env& env, const Node& n);         // eltwise.cc
std::unique_ptr<Step> make_softmax(const Env& env, const Node& n);      // eltwise.cc
std::unique_ptr<Step> make_attention(const Env& env, const Node& n);    // attention.cc
std::unique_ptr<Step> make_concat_prefix(const Env& env, const Node& n);  // tokens.cc
std::unique_ptr<Step> make_pool(const Env& env, const Node& n);            // tokens.cc
std::unique_ptr<Step> make_slice_tokens(const Env& env, const Node& n);    // tokens.cc
std::unique_ptr<Step> make_tokens_to_nchw(const Env& env, const Node& n);  // tokens.cc
std::unique_ptr<Step> make_pos_resample(const Env& env, const Node& n);    // resample.cc
std::unique_ptr<Step> make_conv2d(const Env& env, const Node& n);          // backbone.cc
std::unique_ptr<Step> make_group_norm(const Env& env, const Node& n);      // backbone.cc
std::unique_ptr<Step> make_relu(const Env& env, const Node& n);            // backbone.cc
std::unique_ptr<Step> make_pool2d(const Env& env, const Node& n);          // backbone.cc (max and avg)
std::unique_ptr<Step> make_act(const Env& env, const Node& n);             // act.cc
std::unique_ptr<Step> make_glu(const Env& env, const Node& n);             // glu.cc
std::unique_ptr<Step> make_mul(const Env& env, const Node& n);             // glu.cc
std::unique_ptr<Step> make_rms_norm(const Env& env, const Node& n);        // norm.cc
std::unique_ptr<Step> make_head_norm(const Env& env, const Node& n);       // norm.cc
std::unique_ptr<Step> make_slice_last(const Env& env, const Node& n);      // tokens.cc
std::unique_ptr<Step> make_rope(const Env& env, const Node& n);            // rope.cc

}  // namespace vit::cpu
