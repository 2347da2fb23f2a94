// The CUDA op entries: each turns a graph node into a prepared Step (pointers, GEMM plans and launch shapes
// fixed at program build), whose body only enqueues launchers on the executor's stream. Kernels and
// launchers live next to their entry, one file per op family.
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cuda/context.h"
#include "cuda/cublas-loader.h"
#include "vit/graph.h"
#include "vit/program.h"

namespace vit::cuda {

using StepFn = std::function<void(cudaStream_t)>;

struct OpEnv {
  const Graph* graph = nullptr;
  DType dtype = DType::F32;
  bool tf32 = false;
  DeviceContext* ctx = nullptr;
  WeightStore* store = nullptr;
  DeviceWeights* weights = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;  // cuBLAS(Lt) workspace
  size_t workspace_bytes = 0;
  void* scratch = nullptr;  // shared by all steps (one op runs at a time on the stream)
  size_t scratch_bytes = 0;
  bool autotune = true;  // time cuBLASLt's candidates for large GEMMs at build (VITNODE_CUDA_AUTOTUNE=0: off)
  std::function<cublasHandle_t()> blas;        // created on first use
  std::function<void*(int)> tensor;            // device pointer of a tensor id
  std::vector<std::shared_ptr<void>>* keep = nullptr;  // per-step device data owned by the executor

  const std::vector<int64_t>& shape(int id) const { return graph->shapes[id]; }
  const void* weight(const Node& n, const char* role) const;  // nullptr when the role is absent
  const void* weight_scaled(const Node& n, const char* role, const char* gamma_role) const;
  size_t esize() const { return dtype == DType::F32 ? 4 : 2; }
  // Whether a GEMM of this size is worth timing at build (a few ms of build time, once per shape and process).
  bool tune_gemm(int64_t m, int64_t n, int64_t k) const { return autotune && double(m) * n * k >= 1e10; }
};

std::string node_label(const Node& n);  // "linear 'blocks.0.mlp.fc1'"

// One factory per op, defined in the op family's .cu, registered in registry.cu. A null StepFn: nothing to run.
using StepFactory = StepFn (*)(OpEnv& env, const Node& n);
using ScratchFn = size_t (*)(const OpEnv& env, const Node& n);  // bytes the step needs while it runs

// registry.cu: the node's step; Unsupported when the CUDA backend has no kernel for the op.
StepFn make_step(OpEnv& env, const Node& n);
size_t scratch_bytes(const OpEnv& env, const Node& n);  // 0 for most ops
// Throws Unsupported naming the first node whose op has no CUDA kernel.
void check_supported(const Graph& g);

StepFn op_patch_embed(OpEnv& env, const Node& n);
StepFn op_linear(OpEnv& env, const Node& n);
StepFn op_layer_norm(OpEnv& env, const Node& n);
StepFn op_attention(OpEnv& env, const Node& n);
StepFn op_add(OpEnv& env, const Node& n);
StepFn op_pool(OpEnv& env, const Node& n);
StepFn op_tanh(OpEnv& env, const Node& n);
StepFn op_gelu(OpEnv& env, const Node& n);
StepFn op_softmax(OpEnv& env, const Node& n);
StepFn op_slice_tokens(OpEnv& env, const Node& n);
StepFn op_tokens_to_nchw(OpEnv& env, const Node& n);
StepFn op_concat_prefix(OpEnv& env, const Node& n);
StepFn op_pos_resample(OpEnv& env, const Node& n);
StepFn op_conv2d(OpEnv& env, const Node& n);
StepFn op_group_norm(OpEnv& env, const Node& n);
StepFn op_relu(OpEnv& env, const Node& n);
StepFn op_pool2d(OpEnv& env, const Node& n);  // MaxPool2d and AvgPool2d
StepFn op_act(OpEnv& env, const Node& n);         // eltwise.cu
StepFn op_mul(OpEnv& env, const Node& n);         // glu.cu
StepFn op_glu(OpEnv& env, const Node& n);         // glu.cu
StepFn op_rms_norm(OpEnv& env, const Node& n);    // layer-norm.cu
StepFn op_head_norm(OpEnv& env, const Node& n);   // layer-norm.cu
StepFn op_slice_last(OpEnv& env, const Node& n);  // tokens.cu
StepFn op_rope(OpEnv& env, const Node& n);        // rope.cu

size_t attention_scratch_bytes(const OpEnv& env, const Node& n);
size_t patch_embed_scratch_bytes(const OpEnv& env, const Node& n);
size_t conv2d_scratch_bytes(const OpEnv& env, const Node& n);

// Launchers shared with the executor (dtype conversion of inputs and outputs).
void convert_from_f32(const float* x, void* y, int64_t n, DType dtype, cudaStream_t s);
void convert_to_f32(const void* x, float* y, int64_t n, DType dtype, cudaStream_t s);

}  // namespace vit::cuda

namespace vit::cuda {
// Row softmax, float32 math: x (float32 or `in` dtype) -> y (`out` dtype). Used by Softmax and by the
// unfused attention path.
void softmax_rows(const void* x, DType in, void* y, DType out, int64_t rows, int64_t n, cudaStream_t s);
}  // namespace vit::cuda
