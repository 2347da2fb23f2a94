// CPU executor: oneDNN primitives and kernels prepared once per program, then run in node order over one
// planned arena. One CPU inference at a time per process: two OpenMP-parallel runs would oversubscribe cores.
#include <omp.h>

#include <cstring>
#include <mutex>

#include "cpu/dnnl-conv.h"
#include "cpu/dnnl-linear.h"
#include "cpu/ops.h"
#include "vit/error.h"
#include "vit/program.h"

namespace vit {

namespace {

std::mutex g_cpu_run_mutex;

struct Step {
  const Node* node;
  std::unique_ptr<cpu::DnnlLinear> linear;  // Linear, PatchEmbed
  std::unique_ptr<cpu::DnnlConv> conv;      // Conv2d
  std::vector<float> scratch;               // patchify columns
};

class CpuExecutor : public Executor {
 public:
  CpuExecutor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w)
      : g_(g), p_(p), w_(std::move(w)), arena_(aligned_alloc_f32(static_cast<size_t>(p.arena_floats))) {
    for (const auto& n : g_.nodes) {
      Step s;
      s.node = &n;
      if (n.op == OpKind::Linear) {
        const auto& x = g_.shapes[n.inputs[0]];
        const auto& wt = w_->get(*n.weight("weight")).shape;
        s.linear = std::make_unique<cpu::DnnlLinear>(*w_, *n.weight("weight"), wptr(n, "bias"), wptr(n, "gamma"),
                                                     numel(x) / x.back(), wt[1], wt[0],
                                                     static_cast<cpu::Act>(n.iattr("act", 0)), n.inputs.size() == 2);
      } else if (n.op == OpKind::PatchEmbed) {
        const auto& x = g_.shapes[n.inputs[0]];
        const auto& wt = w_->get(*n.weight("weight")).shape;
        const int64_t tokens = g_.shapes[n.output][1];
        const int64_t k = wt[1] * wt[2] * wt[3];
        s.scratch.resize(static_cast<size_t>(x[0] * tokens * k));
        s.linear = std::make_unique<cpu::DnnlLinear>(*w_, *n.weight("weight"), wptr(n, "bias"), nullptr,
                                                     x[0] * tokens, k, wt[0], cpu::Act::None, false);
      } else if (n.op == OpKind::Conv2d) {
        s.conv = std::make_unique<cpu::DnnlConv>(*w_, n, g_.shapes[n.inputs[0]], g_.shapes[n.output]);
        conv_scratch_bytes_ = std::max(conv_scratch_bytes_, s.conv->scratch_bytes());
      } else if (n.op == OpKind::Attention) {
        attn_t_ = std::max<int64_t>(attn_t_, g_.shapes[n.inputs[0]][1]);
      } else if (n.op == OpKind::Weight) {
        weight_ptr_[n.output] = w_->get(*n.weight("weight")).data.get();
      }
      steps_.push_back(std::move(s));
    }
    if (conv_scratch_bytes_) conv_scratch_ = aligned_alloc_f32((conv_scratch_bytes_ + 3) / 4);
  }

  std::vector<HostTensor> run(const std::vector<const float*>& inputs, int threads) override {
    std::lock_guard<std::mutex> lock(g_cpu_run_mutex);
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    if (attn_t_ > 0) attn_scratch_.resize(static_cast<size_t>(threads * attn_t_ * attn_t_));
    for (size_t i = 0; i < inputs.size(); ++i) {
      int id = g_.inputs[i];
      std::memcpy(ptr(id), inputs[i], numel(g_.shapes[id]) * sizeof(float));
    }
    dnnl::stream stream(cpu::cpu_engine());
    for (auto& s : steps_) exec(s, stream, threads);
    stream.wait();
    std::vector<HostTensor> out;
    for (const auto& o : g_.outputs) {
      HostTensor t;
      t.shape = g_.shapes[o.second];
      const float* src = ptr(o.second);
      t.data.assign(src, src + numel(t.shape));
      out.push_back(std::move(t));
    }
    return out;
  }

 private:
  const float* wptr(const Node& n, const char* role) const {
    const std::string* k = n.weight(role);
    return k ? w_->get(*k).data.get() : nullptr;
  }
  float* ptr(int id) {
    if (p_.offset[id] < 0) return const_cast<float*>(weight_ptr_.at(id));
    return arena_.get() + p_.offset[id];
  }

  void exec(Step& s, dnnl::stream& stream, int threads) {
    const Node& n = *s.node;
    const auto& ys = g_.shapes[n.output];
    float* y = ptr(n.output);
    auto in = [&](size_t i) { return ptr(n.inputs[i]); };
    auto ishape = [&](size_t i) -> const std::vector<int64_t>& { return g_.shapes[n.inputs[i]]; };
    switch (n.op) {
      case OpKind::Weight:
        break;
      case OpKind::PatchEmbed: {
        const auto& x = ishape(0);
        cpu::patchify(in(0), s.scratch.data(), x[0], x[1], x[2], x[3], n.iattr("patch", 0), threads);
        s.linear->run(stream, s.scratch.data(), y, nullptr);
        break;
      }
      case OpKind::Linear:
        s.linear->run(stream, in(0), y, n.inputs.size() == 2 ? in(1) : nullptr);
        break;
      case OpKind::ConcatPrefix: {
        std::vector<const float*> pre;
        std::vector<int64_t> counts;
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          pre.push_back(in(i));
          counts.push_back(ishape(i)[1]);
        }
        cpu::concat_prefix(in(0), pre, counts, y, ys[0], ishape(0)[1], ys[2]);
        break;
      }
      case OpKind::Add: {
        const int64_t per = numel(ys) / ys[0];
        cpu::add_scaled(in(0), in(1), y, ys[0], per, ishape(1)[0] != ys[0], static_cast<float>(n.attr("alpha", 1.0)),
                        static_cast<float>(n.attr("beta", 1.0)), threads);
        break;
      }
      case OpKind::LayerNorm:
        cpu::layer_norm(in(0), wptr(n, "weight"), wptr(n, "bias"), y, numel(ys) / ys.back(), ys.back(),
                        static_cast<float>(n.attr("eps", 1e-6)), threads);
        break;
      case OpKind::Attention: {
        const auto& x = ishape(0);
        cpu::attention(in(0), y, x[0], x[1], x[2] / 3, n.iattr("heads", 1), static_cast<float>(n.attr("scale", 1.0)),
                       n.iattr("scale_q", 0) != 0, attn_scratch_.data(), threads);
        break;
      }
      case OpKind::Pool: {
        const auto& x = ishape(0);
        cpu::pool_tokens(in(0), y, x[0], x[1], x[2], n.iattr("mode", 0), n.iattr("start", 0), n.iattr("index", 0));
        break;
      }
      case OpKind::Tanh:
        cpu::tanh_inplace(in(0), y, numel(ys), threads);
        break;
      case OpKind::Gelu:
        cpu::gelu_erf(in(0), y, numel(ys), threads);
        break;
      case OpKind::Softmax:
        if (y != in(0)) std::memcpy(y, in(0), numel(ys) * sizeof(float));
        cpu::softmax_rows(y, numel(ys) / ys.back(), ys.back(), threads);
        break;
      case OpKind::SliceTokens: {
        const auto& x = ishape(0);
        cpu::slice_tokens(in(0), y, x[0], x[1], x[2], n.iattr("start", 0), n.iattr("count", 0));
        break;
      }
      case OpKind::TokensToNchw: {
        const auto& x = ishape(0);
        cpu::tokens_to_nchw(in(0), y, x[0], x[1], x[2], threads);
        break;
      }
      case OpKind::PosResample: {
        const auto& x = ishape(0);
        const int64_t p = n.iattr("prefix", 0), d = x[2];
        std::memcpy(y, in(0), p * d * sizeof(float));
        cpu::resample_grid(in(0) + p * d, y + p * d, n.iattr("old_h", 0), n.iattr("old_w", 0), n.iattr("h", 0),
                           n.iattr("w", 0), d, static_cast<cpu::Resample>(n.iattr("mode", 0)));
        break;
      }
      case OpKind::Conv2d:
        s.conv->run(stream, in(0), y, n.inputs.size() == 2 ? in(1) : nullptr, conv_scratch_.get());
        break;
      case OpKind::GroupNorm: {
        const auto& x = ishape(0);
        cpu::group_norm(in(0), wptr(n, "weight"), wptr(n, "bias"), n.inputs.size() == 2 ? in(1) : nullptr, y, x[0], x[1],
                        numel(x) / (x[0] * x[1]), n.iattr("groups", 1), static_cast<float>(n.attr("eps", 1e-5)),
                        n.iattr("act", 0) == 1, threads);
        break;
      }
      case OpKind::Relu:
        cpu::relu(in(0), y, numel(ys), threads);
        break;
      case OpKind::MaxPool2d:
      case OpKind::AvgPool2d: {
        const auto& x = ishape(0);
        cpu::pool2d(in(0), y, x[0] * x[1], x[2], x[3], ys[2], ys[3], n.iattr("kernel", 1), n.iattr("stride", 1),
                    n.iattr("pad_t", 0), n.iattr("pad_l", 0), n.op == OpKind::MaxPool2d, threads);
        break;
      }
    }
  }

  const Graph& g_;
  const Plan& p_;
  std::shared_ptr<WeightStore> w_;
  AlignedBuffer arena_;
  std::vector<Step> steps_;
  std::map<int, const float*> weight_ptr_;
  int64_t attn_t_ = 0;
  std::vector<float> attn_scratch_;
  size_t conv_scratch_bytes_ = 0;
  AlignedBuffer conv_scratch_;  // oneDNN convolution scratchpad, shared by every conv step
};

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w) {
  return std::make_unique<CpuExecutor>(g, p, std::move(w));
}

}  // namespace vit
