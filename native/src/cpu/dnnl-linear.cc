#include "cpu/dnnl-linear.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include "cpu/ops.h"
#include "vit/error.h"

namespace vit::cpu {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

bool bf16_supported() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

namespace {

// Packed copies of one weight, one per layout oneDNN asked for (layouts rarely differ between row counts).
struct PackedWeight {
  std::vector<std::pair<memory::desc, memory>> forms;
};

// Once a weight is packed, its float32 host copy is dropped from the store (the packed form can rebuild it: the
// store calls `restore` from get(), e.g. for getWeight or a CUDA upload). VITNODE_KEEP_HOST_WEIGHTS=1 keeps both.
bool release_host_copies() {
  static const bool keep = [] {
    const char* e = std::getenv("VITNODE_KEEP_HOST_WEIGHTS");
    return e && *e && std::string(e) != "0";
  }();
  return !keep;
}

memory packed_weight(WeightStore& store, const std::string& key, const memory::desc& want, int64_t k, int64_t n) {
  std::lock_guard<std::mutex> lock(store.cache_mutex);
  auto& slot = store.caches["cpu:" + key];
  if (!slot) slot = std::make_shared<PackedWeight>();
  auto* pw = static_cast<PackedWeight*>(slot.get());
  for (auto& f : pw->forms)
    if (f.first == want) return f.second;
  const memory::desc plain_md({k, n}, dt::f32, tag::ba);
  const float* raw = store.host_or_null(key);
  const memory* f32_form = nullptr;  // float32 forms only: a bfloat16 one cannot rebuild the weights
  for (auto& f : pw->forms)
    if (f.first.data_type() == dt::f32 && !f32_form) f32_form = &f.second;
  if (!raw && !f32_form) raw = store.get(key).data.get();
  // From the host copy, or (released) from a float32 packed form: a reorder between float32 layouts is exact.
  memory src = raw ? memory(plain_md, cpu_engine(), const_cast<float*>(raw)) : *f32_form;
  memory packed(want, cpu_engine());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(src, packed).execute(s, src, packed);
  s.wait();
  pw->forms.emplace_back(want, packed);
  if (raw && want.data_type() == dt::f32 && release_host_copies()) {
    store.release_host(key, [packed, plain_md](float* dst) {
      memory plain(plain_md, cpu_engine(), dst);
      dnnl::stream rs(cpu_engine());
      dnnl::reorder(packed, plain).execute(rs, const_cast<memory&>(packed), plain);
      rs.wait();
    });
  }
  return packed;
}

// oneDNN's eltwise post-op for an activation code (swish is x * sigmoid(alpha x)).
std::pair<dnnl::algorithm, float> eltwise_of(Act act) {
  using a = dnnl::algorithm;
  switch (act) {
    case Act::Gelu: return {a::eltwise_gelu_erf, 0.f};
    case Act::Tanh: return {a::eltwise_tanh, 0.f};
    case Act::GeluTanh: return {a::eltwise_gelu_tanh, 0.f};
    case Act::QuickGelu: return {a::eltwise_swish, kQuickGeluAlpha};
    case Act::Silu: return {a::eltwise_swish, 1.f};
    case Act::Relu: return {a::eltwise_relu, 0.f};
    case Act::Sigmoid: return {a::eltwise_logistic, 0.f};
    case Act::None: break;
  }
  fail(ErrorCode::Internal, "linear: no oneDNN eltwise for act " + std::to_string(static_cast<int>(act)));
}

}  // namespace

DnnlLinear::DnnlLinear(WeightStore& store, const std::string& weight_key, const float* bias, const float* gamma,
                       int64_t m, int64_t k, int64_t n, Act act, bool residual, bool bf16)
    : bf16_(bf16), has_bias_(bias != nullptr), has_gamma_(gamma != nullptr), has_res_(residual), k_(k) {
  auto& eng = cpu_engine();
  // GELU as a separate AVX2 pass (gelu_erf_inplace) over an output block that is still in L2 (<= 1 MiB), when
  // nothing follows it in the epilogue: at deit_tiny b1 sizes fc1 + GELU took 3.70 instead of 3.90 ms per
  // forward with oneDNN 2.6's gelu_erf post-op. Larger outputs run as row chunks of <= 1 MiB, each GEMM followed
  // by its pass (the rest of the rows in a second, smaller primitive), when a chunk still has >= 256 rows (deit_tiny
  // b8 fc1, 341-row chunks: 27.5 -> 26.2 ms per forward; vit_base's 85-row chunks were 2.5 % slower than the
  // post-op). VITNODE_GELU_POSTOP=1 always uses the post-op; VITNODE_GELU_NO_CHUNKS=1 disables the chunks.
  constexpr int64_t kL2Floats = int64_t{1} << 18;
  const bool gelu_pass = act == Act::Gelu && !has_gamma_ && !has_res_ && std::getenv("VITNODE_GELU_POSTOP") == nullptr;
  total_rows_ = m;
  if (gelu_pass && m * n > kL2Floats && kL2Floats / n >= 256 && std::getenv("VITNODE_GELU_NO_CHUNKS") == nullptr) {
    chunk_ = kL2Floats / n;
    if (m % chunk_)
      tail_ = std::make_unique<DnnlLinear>(store, weight_key, bias, gamma, m % chunk_, k, n, act, residual, bf16);
    m = chunk_;
  }
  const dt in_dt = bf16 ? dt::bf16 : dt::f32;
  memory::desc src_md({m, k}, in_dt, tag::ab);
  memory::desc wei_any({k, n}, in_dt, tag::any);
  memory::desc dst_md({m, n}, dt::f32, tag::ab);
  memory::desc bias_md({1, n}, dt::f32, tag::ab);
  memory::desc row_md({1, n}, dt::f32, tag::ab);

  dnnl::post_ops po;
  int idx = 0;
  sep_gelu_ = gelu_pass && m * n <= kL2Floats;
  rows_ = m, cols_ = n;
  if (act != Act::None && !sep_gelu_) {
    const auto [alg, alpha] = eltwise_of(act);
    po.append_eltwise(1.f, alg, alpha, 0.f);
    ++idx;
  }
  if (has_gamma_) {
    po.append_binary(dnnl::algorithm::binary_mul, row_md);
    gamma_idx_ = idx++;
  }
  if (has_res_) {
    po.append_binary(dnnl::algorithm::binary_add, dst_md);
    res_idx_ = idx++;
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  try {
    auto desc = has_bias_ ? dnnl::matmul::desc(src_md, wei_any, bias_md, dst_md)
                          : dnnl::matmul::desc(src_md, wei_any, dst_md);
    dnnl::matmul::primitive_desc pd(desc, attr, eng);
    prim_ = dnnl::matmul(pd);
    wei_ = packed_weight(store, weight_key, pd.weights_desc(), k, n);
  } catch (const dnnl::error& e) {
    fail(ErrorCode::Internal, "oneDNN matmul for '" + weight_key + "' [" + std::to_string(m) + "x" +
                                  std::to_string(k) + "]x[" + std::to_string(k) + "x" + std::to_string(n) + "]: " + e.what());
  }
  if (bf16_) {
    src_ = memory(src_md, eng);  // owned bfloat16 copy of x
    src_f32_ = memory({{m, k}, dt::f32, tag::ab}, eng, DNNL_MEMORY_NONE);
    to_bf16_ = dnnl::reorder(src_f32_, src_);
  } else {
    src_ = memory(src_md, eng, DNNL_MEMORY_NONE);
  }
  dst_ = memory(dst_md, eng, DNNL_MEMORY_NONE);
  if (has_bias_) bias_ = memory(bias_md, eng, const_cast<float*>(bias));
  if (has_gamma_) gamma_ = memory(row_md, eng, const_cast<float*>(gamma));
  if (has_res_) res_ = memory(dst_md, eng, DNNL_MEMORY_NONE);
}

void DnnlLinear::run(dnnl::stream& s, const float* x, float* y, const float* residual) const {
  if (chunk_ == 0) return run_block(s, x, y, residual);
  int64_t r = 0;
  for (; r + chunk_ <= total_rows_; r += chunk_) run_block(s, x + r * k_, y + r * cols_, nullptr);
  if (tail_) tail_->run(s, x + r * k_, y + r * cols_, nullptr);
}

void DnnlLinear::run_block(dnnl::stream& s, const float* x, float* y, const float* residual) const {
  // memory objects are handles; copies share the descriptor and let each run set its own pointers.
  memory src = src_, dst = dst_;
  if (bf16_) {
    memory xf = src_f32_;
    xf.set_data_handle(const_cast<float*>(x));
    to_bf16_.execute(s, xf, src);
  } else {
    src.set_data_handle(const_cast<float*>(x));
  }
  dst.set_data_handle(y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst}};
  if (has_bias_) args[DNNL_ARG_BIAS] = bias_;
  if (has_gamma_) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(gamma_idx_) | DNNL_ARG_SRC_1] = gamma_;
  if (has_res_) {
    memory res = res_;
    res.set_data_handle(const_cast<float*>(residual));
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_idx_) | DNNL_ARG_SRC_1] = res;
  }
  prim_.execute(s, args);
  if (sep_gelu_) gelu_erf_inplace(y, rows_ * cols_);
}

}  // namespace vit::cpu
