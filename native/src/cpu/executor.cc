// CPU executor: oneDNN primitives and kernels prepared once per program, then run in node order over one
// planned arena. One CPU inference at a time per process: two OpenMP-parallel runs would oversubscribe cores.
//
// Threading: row-wise ops (Linear, PatchEmbed, LayerNorm, Add, GELU/tanh, softmax) never mix rows, so a run of
// them is executed inside ONE OpenMP parallel region in which thread i always owns the same contiguous rows
// (its own single-threaded oneDNN matmuls per row block). A token chain such as norm2 -> fc1 -> fc2 (+residual)
// -> norm1 -> qkv then needs no synchronisation at all and its rows stay in that core's cache; attention (which
// mixes tokens) is a worksharing loop inside the same region with barriers around it. Barriers are also placed
// where the arena plan reuses memory that another thread may still read. A ViT forward is then ~3 parallel
// regions and ~2 barriers per block instead of ~10 parallel regions per block, which matters most when the host
// is busy (every region or barrier waits for a descheduled thread). Other ops run between regions as before.
#include <omp.h>
#if defined(__linux__)
#include <malloc.h>  // malloc_trim (glibc)
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
  std::unique_ptr<cpu::DnnlConv> conv;  // Conv2d
  int64_t rows = 0;                     // > 0: row-wise op over this many rows (see above)
  int64_t row_width = 0;                // output row width
};

// One part of a run for a given thread count: either a serial step (own internal parallelism) or a parallel
// region holding row-wise steps, attention steps and barriers.
struct Item {
  enum Kind { Row, Attention, Barrier } kind;
  size_t step;
};
struct Segment {
  bool region;
  size_t step;              // serial step
  std::vector<Item> items;  // region
};
struct Schedule {
  int threads = 0;
  std::vector<Segment> segments;
  // Per step, per part: single-threaded matmuls over the part's rows; patchify columns per part.
  std::vector<std::vector<std::unique_ptr<cpu::DnnlLinear>>> linear;
  std::vector<std::vector<std::vector<float>>> cols;
  int barriers = 0, regions = 0;
};

class CpuExecutor : public Executor {
 public:
  CpuExecutor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w, bool bf16)
      : bf16_(bf16), g_(g), p_(p), w_(std::move(w)), arena_(aligned_alloc_f32(static_cast<size_t>(p.arena_floats))) {
    for (const auto& n : g_.nodes) {
      Step s;
      s.node = &n;
      const auto& ys = g_.shapes[n.output];
      switch (n.op) {
        case OpKind::Linear:
        case OpKind::PatchEmbed:
        case OpKind::LayerNorm:
        case OpKind::Gelu:
        case OpKind::Tanh:
        case OpKind::Softmax:
        case OpKind::SliceTokens:  // output row r copies one input row (a gather, no mixing)
        case OpKind::Act:
        case OpKind::Mul:
        case OpKind::Glu:
        case OpKind::RmsNorm:
        case OpKind::HeadNorm:
        case OpKind::SliceLast:
          s.rows = numel(ys) / ys.back();
          break;
        case OpKind::Add:  // a and y alike; b alike or one item broadcast over the batch
          if (g_.shapes[n.inputs[0]] == ys && ys.size() >= 2) s.rows = numel(ys) / ys.back();
          break;
        default:
          break;
      }
      s.row_width = ys.empty() ? 0 : ys.back();
      if (n.op == OpKind::Conv2d) {
        s.conv = std::make_unique<cpu::DnnlConv>(*w_, n, g_.shapes[n.inputs[0]], g_.shapes[n.output]);
        conv_scratch_bytes_ = std::max(conv_scratch_bytes_, s.conv->scratch_bytes());
      } else if (n.op == OpKind::Attention) {  // scores: up to Q x T floats per thread
        const int64_t t = g_.shapes[n.inputs.back()][1];
        attn_floats_ = std::max<int64_t>(attn_floats_, std::max<int64_t>(t, ys[1]) * t);
      } else if (n.op == OpKind::Weight) {
        weight_ptr_[n.output] = w_->get(*n.weight("weight")).data.get();
      }
      steps_.push_back(std::move(s));
    }
    if (conv_scratch_bytes_) conv_scratch_ = aligned_alloc_f32((conv_scratch_bytes_ + 3) / 4);
  }

  ~CpuExecutor() override {
    if (!profile_ || !prof_runs_) return;
    double total = 0;
    for (auto& kv : prof_) total += kv.second;
    std::fprintf(stderr, "vitnode profile: %d runs, %.3f ms/run (row-wise steps timed on thread 0, waits included)\n",
                 prof_runs_, total / prof_runs_);
    for (auto& kv : schedules_)
      std::fprintf(stderr, "  %d threads: %d parallel regions, %d barriers per run\n", kv.first, kv.second->regions,
                   kv.second->barriers);
    for (auto& kv : prof_)
      std::fprintf(stderr, "  %-40s %8.3f ms/run %5.1f%%\n", kv.first.c_str(), kv.second / prof_runs_, 100 * kv.second / total);
  }

  std::vector<HostTensor> run(const std::vector<const float*>& inputs, int threads) override {
    std::lock_guard<std::mutex> lock(g_cpu_run_mutex);
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    if (attn_floats_ > 0 && attn_scratch_.size() < static_cast<size_t>(threads * attn_floats_))
      attn_scratch_.resize(static_cast<size_t>(threads * attn_floats_));
    Schedule& sched = schedule(threads);
    for (size_t i = 0; i < inputs.size(); ++i) {
      int id = g_.inputs[i];
      std::memcpy(ptr(id), inputs[i], numel(g_.shapes[id]) * sizeof(float));
    }
    dnnl::stream stream(cpu::cpu_engine());
    for (auto& seg : sched.segments) {
      if (!seg.region) {
        auto t0 = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        exec(steps_[seg.step], stream, threads);
        if (profile_) prof_add(seg.step, t0);
        continue;
      }
      run_region(sched, seg);
    }
    stream.wait();
    if (profile_) ++prof_runs_;
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
  // Thread count -> schedule (built on first use of that count; primitives are single-threaded per part).
  Schedule& schedule(int threads) {
    auto it = schedules_.find(threads);
    if (it != schedules_.end()) return *it->second;
    auto sc = std::make_unique<Schedule>();
    sc->threads = threads;
    sc->linear.resize(steps_.size());
    sc->cols.resize(steps_.size());
    // Single-threaded primitives: oneDNN plans its blocking for omp_get_max_threads() at creation.
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      const Node& n = *s.node;
      if (n.op != OpKind::Linear && n.op != OpKind::PatchEmbed) continue;
      const auto& wt = w_->shape(*n.weight("weight"));
      const int64_t k = n.op == OpKind::Linear ? wt[1] : wt[1] * wt[2] * wt[3];
      sc->linear[i].resize(threads);
      sc->cols[i].resize(threads);
      for (int part = 0; part < threads; ++part) {
        const int64_t r0 = row0(s.rows, part, threads), r1 = row0(s.rows, part + 1, threads);
        if (r1 == r0) continue;
        if (n.op == OpKind::Linear)
          sc->linear[i][part] = std::make_unique<cpu::DnnlLinear>(
              *w_, *n.weight("weight"), wptr(n, "bias"), wptr(n, "gamma"), r1 - r0, k, wt[0],
              static_cast<cpu::Act>(n.iattr("act", 0)), n.inputs.size() == 2, bf16_);
        else {
          sc->linear[i][part] = std::make_unique<cpu::DnnlLinear>(*w_, *n.weight("weight"), wptr(n, "bias"), nullptr,
                                                                  r1 - r0, k, wt[0], cpu::Act::None, false, bf16_);
          sc->cols[i][part].resize(static_cast<size_t>((r1 - r0) * k));
        }
      }
    }
    omp_set_num_threads(saved);
#ifdef __GLIBC__
    // Packing released the float32 host copies of the GEMM weights (dnnl-linear.cc); hand the pages back now, as
    // glibc keeps freed large blocks in the heap once its mmap threshold has grown.
    malloc_trim(0);
#endif

    // Segments, and barriers inside regions. Within a region, since the last barrier: `touched` lists the arena
    // ranges read or written by row-wise steps (offset, floats, row width, rows). A row-wise step may follow without
    // a barrier when it has the same row count and its output either overlaps nothing touched or is exactly one
    // touched tensor (same offset, width, rows: each thread then rewrites only rows it alone touched).
    struct Touch {
      int64_t off, len, width, rows;
    };
    std::vector<Touch> touched;
    int64_t cur_rows = -1;
    Segment* region = nullptr;
    auto touch = [&](int id, int64_t rows) {
      if (p_.offset[id] < 0) return;
      const auto& sh = g_.shapes[id];
      const int64_t width = sh.empty() ? 1 : sh.back();
      touched.push_back({p_.offset[id], numel(sh), numel(sh) / std::max<int64_t>(rows, 1) == width ? width : -1, rows});
    };
    auto barrier = [&] {
      if (!touched.empty()) region->items.push_back({Item::Barrier, 0}), ++sc->barriers;
      touched.clear();
    };
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      const Node& n = *s.node;
      const bool row = s.rows > 0, attn = n.op == OpKind::Attention;
      if (!row && !attn) {
        region = nullptr;
        sc->segments.push_back({false, i, {}});
        continue;
      }
      if (!region) {
        sc->segments.push_back({true, 0, {}});
        region = &sc->segments.back();
        touched.clear();
        cur_rows = -1;
        ++sc->regions;
      }
      if (attn) {
        barrier();
        region->items.push_back({Item::Attention, i});
        touched.clear();  // the worksharing loop ends with a barrier
        cur_rows = -1;
        continue;
      }
      // A gather (SliceTokens) reads rows other threads wrote, whatever the row counts.
      if (s.rows != cur_rows || n.op == OpKind::SliceTokens) barrier();
      const int64_t yoff = p_.offset[n.output], ylen = numel(g_.shapes[n.output]);
      bool hazard = false;
      for (const auto& t : touched) {
        const bool overlap = yoff < t.off + t.len && t.off < yoff + ylen;
        const bool same = t.off == yoff && t.len == ylen && t.width == s.row_width && t.rows == s.rows;
        if (overlap && !same) hazard = true;
      }
      if (hazard) barrier();
      for (size_t j = 0; j < n.inputs.size(); ++j) {
        // Add's broadcast operand is read whole by every thread: its width is marked unusable (-1).
        const bool bcast = n.op == OpKind::Add && j == 1 && g_.shapes[n.inputs[1]] != g_.shapes[n.output];
        if (bcast) {
          if (p_.offset[n.inputs[1]] >= 0) touched.push_back({p_.offset[n.inputs[1]], numel(g_.shapes[n.inputs[1]]), -1, -1});
        } else {
          touch(n.inputs[j], s.rows);
        }
      }
      touch(n.output, s.rows);
      cur_rows = s.rows;
      region->items.push_back({Item::Row, i});
    }
    auto& ref = *sc;
    schedules_[threads] = std::move(sc);
    return ref;
  }

  static int64_t row0(int64_t rows, int part, int parts) { return rows * part / parts; }

  void run_region(Schedule& sc, const Segment& seg) {
    const int threads = sc.threads;
#pragma omp parallel num_threads(threads)
    {
      const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
      dnnl::stream st(cpu::cpu_engine());
      for (const Item& it : seg.items) {
        auto t0 = profile_ && tid == 0 ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        switch (it.kind) {
          case Item::Barrier: {
#pragma omp barrier
            break;
          }
          case Item::Attention: {
            const Node& n = *steps_[it.step].node;
            std::vector<const float*> in;
            std::vector<std::vector<int64_t>> shapes;
            for (int id : n.inputs) in.push_back(ptr(id)), shapes.push_back(g_.shapes[id]);
            const auto a = cpu::attention_problem(in, shapes, ptr(n.output), g_.shapes[n.output]);
            const int64_t heads = n.iattr("heads", 1);
            cpu::attention_ws(a.operands, a.b, a.t, a.q, a.d, heads, static_cast<float>(n.attr("scale", 1.0)),
                              cpu::attention_query_blocks(a.b, a.q, heads, threads), attn_scratch_.data());
            break;
          }
          case Item::Row:
            // Parts are fixed per thread across the region (nt < threads only if the runtime gave fewer threads).
            for (int part = tid; part < threads; part += nt) exec_rows(sc, it.step, part, st);
            break;
        }
        if (profile_ && tid == 0 && it.kind != Item::Barrier) prof_add(it.step, t0);
      }
      st.wait();
    }
  }

  // Rows [r0, r1) of a row-wise step, single-threaded.
  void exec_rows(Schedule& sc, size_t i, int part, dnnl::stream& st) {
    const Step& s = steps_[i];
    const Node& n = *s.node;
    const int64_t r0 = row0(s.rows, part, sc.threads), r1 = row0(s.rows, part + 1, sc.threads);
    if (r1 == r0) return;
    const int64_t w = s.row_width;
    float* y = ptr(n.output) + r0 * w;
    const float* x = ptr(n.inputs[0]);
    const int64_t xw = g_.shapes[n.inputs[0]].back();
    switch (n.op) {
      case OpKind::Linear:
        sc.linear[i][part]->run(st, x + r0 * xw, y, n.inputs.size() == 2 ? ptr(n.inputs[1]) + r0 * w : nullptr);
        break;
      case OpKind::PatchEmbed: {
        const auto& xs = g_.shapes[n.inputs[0]];
        float* cols = sc.cols[i][part].data();
        cpu::patchify_rows(x, cols, r0, r1, xs[1], xs[2], xs[3], n.iattr("patch", 0));
        sc.linear[i][part]->run(st, cols, y, nullptr);
        break;
      }
      case OpKind::LayerNorm:
        cpu::layer_norm(x + r0 * w, wptr(n, "weight"), wptr(n, "bias"), y, r1 - r0, w,
                        static_cast<float>(n.attr("eps", 1e-6)), 1);
        break;
      case OpKind::Add: {
        const auto& bs = g_.shapes[n.inputs[1]];
        cpu::add_rows(x, ptr(n.inputs[1]), ptr(n.output), r0, r1, w, numel(bs) / bs.back(),
                      static_cast<float>(n.attr("alpha", 1.0)), static_cast<float>(n.attr("beta", 1.0)));
        break;
      }
      case OpKind::Gelu:
        cpu::gelu_erf(x + r0 * w, y, (r1 - r0) * w, 1);
        break;
      case OpKind::Tanh:
        cpu::tanh_inplace(x + r0 * w, y, (r1 - r0) * w, 1);
        break;
      case OpKind::Softmax:
        if (y != x + r0 * w) std::memcpy(y, x + r0 * w, (r1 - r0) * w * sizeof(float));
        cpu::softmax_rows(y, r1 - r0, w, 1);
        break;
      case OpKind::SliceTokens: {
        const int64_t t = g_.shapes[n.inputs[0]][1], start = n.iattr("start", 0), count = g_.shapes[n.output][1];
        for (int64_t r = r0; r < r1; ++r)
          std::memcpy(y + (r - r0) * w, x + ((r / count) * t + start + r % count) * w, w * sizeof(float));
        break;
      }
      case OpKind::Act:
        cpu::act_rows(x + r0 * w, y, (r1 - r0) * w, static_cast<cpu::Act>(n.iattr("act", 0)));
        break;
      case OpKind::Mul:
        cpu::mul_rows(x + r0 * w, ptr(n.inputs[1]) + r0 * w, y, (r1 - r0) * w);
        break;
      case OpKind::Glu:
        cpu::glu_rows(x + r0 * xw, y, r1 - r0, w, static_cast<cpu::Act>(n.iattr("act", 0)), n.iattr("gate_first", 0) != 0);
        break;
      case OpKind::RmsNorm:
        cpu::rms_norm(x + r0 * w, wptr(n, "weight"), y, r1 - r0, w, static_cast<float>(n.attr("eps", 1e-6)));
        break;
      case OpKind::HeadNorm:
        cpu::head_norm(x + r0 * w, y, r1 - r0, w / 3, n.iattr("heads", 1),
                       {wptr(n, "q_weight"), wptr(n, "q_bias"), wptr(n, "k_weight"), wptr(n, "k_bias"), n.iattr("kind", 0) == 1},
                       static_cast<float>(n.attr("eps", 1e-6)));
        break;
      case OpKind::SliceLast:
        cpu::slice_last_rows(x + r0 * xw, y, r1 - r0, xw, n.iattr("start", 0), w);
        break;
      default:
        fail(ErrorCode::Internal, std::string("not a row-wise op: ") + op_name(n.op));
    }
  }

  void prof_add(size_t i, std::chrono::steady_clock::time_point t0) {
    const Node& n = *steps_[i].node;
    std::string key = op_name(n.op);
    if (n.op == OpKind::Linear) {  // blocks.3.mlp.fc1 -> linear/mlp.fc1
      const std::string& nm = n.name;
      size_t dot = nm.rfind('.', nm.rfind('.') - 1);
      key += "/" + (dot == std::string::npos ? nm : nm.substr(dot + 1));
    }
    prof_[key] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

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
      case OpKind::Pool: {
        const auto& x = ishape(0);
        cpu::pool_tokens(in(0), y, x[0], x[1], x[2], n.iattr("mode", 0), n.iattr("start", 0), n.iattr("index", 0));
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
      default:  // row-wise steps and attention
        fail(ErrorCode::Internal, std::string(op_name(n.op)) + " steps run in parallel regions (exec_rows / attention_ws)");
    }
  }

  // VITNODE_PROFILE=1: time every step (per op kind; linears per name), summary on stderr when the program is freed.
  bool profile_ = std::getenv("VITNODE_PROFILE") != nullptr;
  bool bf16_ = false;
  std::map<std::string, double> prof_;
  int prof_runs_ = 0;
  const Graph& g_;
  const Plan& p_;
  std::shared_ptr<WeightStore> w_;
  AlignedBuffer arena_;
  std::vector<Step> steps_;
  std::map<int, const float*> weight_ptr_;
  std::map<int, std::unique_ptr<Schedule>> schedules_;
  int64_t attn_floats_ = 0;  // attention scores per thread
  std::vector<float> attn_scratch_;
  size_t conv_scratch_bytes_ = 0;
  AlignedBuffer conv_scratch_;  // oneDNN convolution scratchpad, shared by every conv step
};

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w,
                                            const DeviceSpec& dev) {
  VIT_CHECK(dev.dtype != DType::F16, Unsupported, "float16 is CUDA-only; the CPU backend runs float32 or bfloat16");
  VIT_CHECK(dev.dtype != DType::BF16 || cpu::bf16_supported(), Unsupported,
            "bfloat16 on CPU needs AVX512-BF16 (oneDNN reports a lower ISA here)");
  return std::make_unique<CpuExecutor>(g, p, std::move(w), dev.dtype == DType::BF16);
}

}  // namespace vit
