#include "cpu/dnnl-conv.h"

#include <vector>

#include "cpu/dnnl-linear.h"
#include "vit/conv-weights.h"
#include "vit/error.h"

namespace vit::cpu {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct PackedConv {
  std::vector<std::pair<memory::desc, memory>> forms;
};

memory packed_conv_weight(WeightStore& store, const std::string& key, const ConvWeights& cw, const memory::desc& want) {
  std::lock_guard<std::mutex> lock(store.cache_mutex);
  auto& slot = store.caches["cpu:" + key];
  if (!slot) slot = std::make_shared<PackedConv>();
  auto* pc = static_cast<PackedConv*>(slot.get());
  for (auto& f : pc->forms)
    if (f.first == want) return f.second;
  const auto& s = cw.shape;
  memory plain({{s[0], s[1], s[2], s[3]}, dt::f32, tag::oihw}, cpu_engine(), const_cast<float*>(cw.weight.data()));
  memory packed(want, cpu_engine());
  dnnl::stream st(cpu_engine());
  dnnl::reorder(plain, packed).execute(st, plain, packed);
  st.wait();
  pc->forms.emplace_back(want, packed);
  return packed;
}

}  // namespace

DnnlConv::DnnlConv(WeightStore& store, const Node& n, const std::vector<int64_t>& x, const std::vector<int64_t>& y) {
  auto& eng = cpu_engine();
  auto cw = conv_weights(store, n);
  keep_ = cw;
  const auto& ws = cw->shape;
  has_bias_ = !cw->bias.empty();
  has_res_ = n.inputs.size() == 2;
  memory::desc src_md({x[0], x[1], x[2], x[3]}, dt::f32, tag::nchw);
  memory::desc dst_md({y[0], y[1], y[2], y[3]}, dt::f32, tag::nchw);
  memory::desc wei_any({ws[0], ws[1], ws[2], ws[3]}, dt::f32, tag::any);
  memory::desc bias_md({ws[0]}, dt::f32, tag::x);
  const int64_t s = n.iattr("stride"), d = n.iattr("dilation");
  memory::dims strides{s, s}, dil{d - 1, d - 1};  // oneDNN counts dilation from 0
  memory::dims pad_l{n.iattr("pad_t"), n.iattr("pad_l")}, pad_r{n.iattr("pad_b"), n.iattr("pad_r")};

  dnnl::post_ops po;
  int idx = 0;
  if (has_res_) {
    po.append_binary(dnnl::algorithm::binary_add, dst_md);
    res_idx_ = idx++;
  }
  if (n.iattr("act") == 1) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f), ++idx;
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  // Our own scratchpad: the library-managed one came back null when the primitive ran on another thread than
  // the one that created it (libuv worker vs JS thread).
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto fwd = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  try {
    auto desc = has_bias_ ? dnnl::convolution_forward::desc(fwd, alg, src_md, wei_any, bias_md, dst_md, strides, dil, pad_l, pad_r)
                          : dnnl::convolution_forward::desc(fwd, alg, src_md, wei_any, dst_md, strides, dil, pad_l, pad_r);
    pd_ = dnnl::convolution_forward::primitive_desc(desc, attr, eng);
    prim_ = dnnl::convolution_forward(pd_);
    wei_ = packed_conv_weight(store, conv_weights_key(n), *cw, pd_.weights_desc());
  } catch (const dnnl::error& e) {
    fail(ErrorCode::Internal, "oneDNN convolution '" + n.name + "': " + e.what());
  }
  src_ = memory(src_md, eng, DNNL_MEMORY_NONE);
  dst_ = memory(dst_md, eng, DNNL_MEMORY_NONE);
  if (has_bias_) bias_ = memory(bias_md, eng, const_cast<float*>(cw->bias.data()));
  if (has_res_) res_ = memory(dst_md, eng, DNNL_MEMORY_NONE);
  scratch_ = memory(pd_.scratchpad_desc(), eng, DNNL_MEMORY_NONE);
}

size_t DnnlConv::scratch_bytes() const { return pd_.scratchpad_desc().get_size(); }

const char* DnnlConv::impl() const { return pd_.impl_info_str(); }

void DnnlConv::run(dnnl::stream& s, const float* x, float* y, const float* residual, void* scratch) const {
  memory src = src_, dst = dst_, scr = scratch_;
  scr.set_data_handle(scratch);
  src.set_data_handle(const_cast<float*>(x));
  dst.set_data_handle(y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args[DNNL_ARG_BIAS] = bias_;
  args[DNNL_ARG_SCRATCHPAD] = scr;
  if (has_res_) {
    memory res = res_;
    res.set_data_handle(const_cast<float*>(residual));
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_idx_) | DNNL_ARG_SRC_1] = res;
  }
  prim_.execute(s, args);
}

}  // namespace vit::cpu
