// The oneDNN convolution behind the narrow interface: y = act(conv(x, W') + b' + residual) on plain NCHW
// tensors, W'/b' the node's effective weights (vit/conv-weights.h) pre-packed once into oneDNN's layout and
// cached in the WeightStore next to the packed Linear weights.
#pragma once
#include <dnnl.hpp>

#include "vit/graph.h"
#include "vit/weights.h"

namespace vit::cpu {

class DnnlConv {
 public:
  DnnlConv(WeightStore& store, const Node& n, const std::vector<int64_t>& x, const std::vector<int64_t>& y);
  // scratch: scratch_bytes() of memory, 64-byte aligned (one buffer shared by every conv of a program).
  void run(dnnl::stream& s, const float* x, float* y, const float* residual, void* scratch) const;
  size_t scratch_bytes() const;
  const char* impl() const;  // oneDNN's implementation name, for benchmarks

 private:
  dnnl::convolution_forward prim_;
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::memory src_, dst_, wei_, bias_, res_, scratch_;
  std::shared_ptr<const void> keep_;  // the effective weights (bias_ points into them)
  bool has_bias_ = false, has_res_ = false;
  int res_idx_ = -1;
};

}  // namespace vit::cpu
