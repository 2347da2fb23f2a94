// The narrow oneDNN interface: y = residual + gamma * act(x W^T + b), weights pre-packed once into the layout
// oneDNN picks (cached in the WeightStore, shared by every program of the model).
#pragma once
#include <dnnl.hpp>
#include <memory>
#include <string>

#include "vit/act.h"
#include "vit/weights.h"

namespace vit::cpu {

using vit::Act;

dnnl::engine& cpu_engine();
bool bf16_supported();  // oneDNN's effective ISA has AVX512-BF16

class DnnlLinear {
 public:
  // w: [n, k] row-major (a Linear weight, or a conv weight [n, c, p, p] viewed as [n, c*p*p]).
  // bf16: x and W in bfloat16 (x converted per run into an owned buffer), float32 accumulation, bias and output.
  DnnlLinear(WeightStore& store, const std::string& weight_key, const float* bias, const float* gamma, int64_t m,
             int64_t k, int64_t n, Act act, bool residual, bool bf16 = false);
  void run(dnnl::stream& s, const float* x, float* y, const float* residual) const;

 private:
  void run_block(dnnl::stream& s, const float* x, float* y, const float* residual) const;

  dnnl::matmul prim_;
  bool bf16_ = false;
  dnnl::reorder to_bf16_;
  dnnl::memory src_f32_;
  dnnl::memory src_, dst_, wei_, bias_, gamma_, res_;
  bool has_bias_, has_gamma_, has_res_;
  int gamma_idx_ = -1, res_idx_ = -1;
  bool sep_gelu_ = false;  // GELU applied by gelu_erf_inplace after the GEMM instead of as a post-op
  int64_t rows_ = 0, cols_ = 0, k_ = 0;
  int64_t total_rows_ = 0, chunk_ = 0;  // chunk_ > 0: run as row chunks of chunk_ (+ tail_ for the rest)
  std::unique_ptr<DnnlLinear> tail_;
};

}  // namespace vit::cpu
