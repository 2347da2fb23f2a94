// CPU executor: oneDNN primitives and kernels prepared once per program, then run in node order over one
// planned arena. One CPU inference at a time per process: two OpenMP-parallel runs would oversubscribe cores.
//
// Threading: row-wise ops (the op table's kRowWise trait: Linear, PatchEmbed, LayerNorm, Add, ...) never mix
// rows, so a run of them is executed inside ONE OpenMP parallel region in which thread i always owns the same
// contiguous rows (its own single-threaded oneDNN matmuls per row block). A token chain such as norm2 -> fc1 -> fc2 (+residual)
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

#include "cpu/dnnl-linear.h"
#include "cpu/step.h"
#include "vit/error.h"
#include "vit/op-table.h"
#include "vit/program.h"

namespace vit {

namespace {

std::mutex g_cpu_run_mutex;

// One part of a run for a given thread count: either a serial step (own internal parallelism) or a parallel
// region holding row-wise steps, worksharing steps and barriers.
struct Item {
  enum Kind { Row, Worksharing, Barrier } kind;
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
  int barriers = 0, regions = 0;
};

class CpuExecutor : public Executor {
 public:
  CpuExecutor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w, bool bf16)
      : g_(g), p_(p), w_(std::move(w)), arena_(aligned_alloc_f32(static_cast<size_t>(p.arena_floats))) {
    for (const auto& n : g_.nodes)
      if (n.op == OpKind::Weight) weight_ptr_[n.output] = w_->get(*n.weight("weight")).data.get();
    cpu::Env env;
    env.graph = &g_;
    env.weights = w_.get();
    env.bf16 = bf16;
    env.tensor = [this](int id) { return ptr(id); };
    for (const auto& n : g_.nodes) {
      auto step = cpu::make_step(env, n);  // Unsupported for an op the CPU backend lacks
      if (!step) continue;
      steps_.push_back(std::move(step));
      nodes_.push_back(&n);
    }
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
    Schedule& sched = schedule(threads);
    size_t scratch = 0;
    for (const auto& s : steps_) scratch = std::max(scratch, s->scratch_bytes(threads));
    if (scratch > scratch_bytes_) {
      scratch_ = aligned_alloc_f32((scratch + 3) / 4);
      scratch_bytes_ = scratch;
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      int id = g_.inputs[i];
      std::memcpy(ptr(id), inputs[i], numel(g_.shapes[id]) * sizeof(float));
    }
    dnnl::stream stream(cpu::cpu_engine());
    for (auto& seg : sched.segments) {
      if (!seg.region) {
        auto t0 = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        steps_[seg.step]->run(stream, threads, scratch_.get());
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
  bool row_wise(size_t i) const { return op_def(nodes_[i]->op).has(kRowWise); }

  // Thread count -> schedule (built on first use of that count; primitives are single-threaded per part).
  Schedule& schedule(int threads) {
    auto it = schedules_.find(threads);
    if (it != schedules_.end()) return *it->second;
    auto sc = std::make_unique<Schedule>();
    sc->threads = threads;
    // Single-threaded primitives: oneDNN plans its blocking for omp_get_max_threads() at creation.
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (size_t i = 0; i < steps_.size(); ++i)
      if (row_wise(i)) steps_[i]->prepare(threads);
    omp_set_num_threads(saved);
#ifdef __GLIBC__
    // Packing released the float32 host copies of the GEMM weights (dnnl-linear.cc); hand the pages back now, as
    // glibc keeps freed large blocks in the heap once its mmap threshold has grown.
    malloc_trim(0);
#endif

    // Segments, and barriers inside regions. Within a region, since the last barrier: `touched` lists the arena
    // ranges read or written by row-wise steps (offset, floats, row width, rows). A row-wise step may follow without
    // a barrier when it has the same row count, every input it reads across rows (a broadcast or gathered operand)
    // is untouched, and its output either overlaps nothing touched or is exactly one touched tensor (same offset,
    // width, rows: each thread then rewrites only rows it alone touched).
    struct Touch {
      int64_t off, len, width, rows;
    };
    std::vector<Touch> touched;
    int64_t cur_rows = -1;
    Segment* region = nullptr;
    auto rows_of = [&](int id) {
      const auto& sh = g_.shapes[id];
      return sh.empty() ? int64_t{1} : numel(sh) / sh.back();
    };
    auto touch = [&](int id, int64_t rows, bool aligned) {
      if (p_.offset[id] < 0) return;
      const auto& sh = g_.shapes[id];
      touched.push_back({p_.offset[id], numel(sh), aligned ? sh.back() : -1, aligned ? rows : -1});
    };
    auto overlaps = [&](int id) {
      const int64_t off = p_.offset[id], len = numel(g_.shapes[id]);
      if (off < 0) return false;
      for (const auto& t : touched)
        if (off < t.off + t.len && t.off < off + len) return true;
      return false;
    };
    auto barrier = [&] {
      if (!touched.empty()) region->items.push_back({Item::Barrier, 0}), ++sc->barriers;
      touched.clear();
    };
    for (size_t i = 0; i < steps_.size(); ++i) {
      const cpu::Step& s = *steps_[i];
      const Node& n = *nodes_[i];
      const bool row = row_wise(i), ws = s.worksharing();
      if (!row && !ws) {
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
      if (ws) {
        barrier();
        region->items.push_back({Item::Worksharing, i});
        touched.clear();  // the worksharing loop ends with a barrier
        cur_rows = -1;
        continue;
      }
      const int64_t rows = s.rows(), width = numel(g_.shapes[n.output]) / rows;
      // An input with another row count is read across rows (every thread may read any of its rows).
      std::vector<bool> aligned(n.inputs.size());
      bool wait = rows != cur_rows;
      for (size_t j = 0; j < n.inputs.size(); ++j) {
        aligned[j] = rows_of(n.inputs[j]) == rows;
        if (!aligned[j] && overlaps(n.inputs[j])) wait = true;
      }
      if (wait) barrier();
      const int64_t yoff = p_.offset[n.output], ylen = numel(g_.shapes[n.output]);
      bool hazard = false;
      for (const auto& t : touched) {
        const bool overlap = yoff < t.off + t.len && t.off < yoff + ylen;
        const bool same = t.off == yoff && t.len == ylen && t.width == width && t.rows == rows;
        if (overlap && !same) hazard = true;
      }
      if (hazard) barrier();
      for (size_t j = 0; j < n.inputs.size(); ++j) touch(n.inputs[j], rows, aligned[j]);
      touch(n.output, rows, width == g_.shapes[n.output].back());
      cur_rows = rows;
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
          case Item::Worksharing:
            steps_[it.step]->run_ws(threads, scratch_.get());
            break;
          case Item::Row: {
            // Parts are fixed per thread across the region (nt < threads only if the runtime gave fewer threads).
            cpu::Step& s = *steps_[it.step];
            const int64_t rows = s.rows();
            for (int part = tid; part < threads; part += nt) {
              const int64_t r0 = row0(rows, part, threads), r1 = row0(rows, part + 1, threads);
              if (r1 > r0) s.run_rows(part, threads, r0, r1, st);
            }
            break;
          }
        }
        if (profile_ && tid == 0 && it.kind != Item::Barrier) prof_add(it.step, t0);
      }
      st.wait();
    }
  }

  void prof_add(size_t i, std::chrono::steady_clock::time_point t0) {
    const Node& n = *nodes_[i];
    std::string key = op_name(n.op);
    if (n.op == OpKind::Linear) {  // blocks.3.mlp.fc1 -> linear/mlp.fc1
      const std::string& nm = n.name;
      size_t dot = nm.rfind('.', nm.rfind('.') - 1);
      key += "/" + (dot == std::string::npos ? nm : nm.substr(dot + 1));
    }
    prof_[key] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

  float* ptr(int id) {
    if (p_.offset[id] < 0) return const_cast<float*>(weight_ptr_.at(id));
    return arena_.get() + p_.offset[id];
  }

  // VITNODE_PROFILE=1: time every step (per op kind; linears per name), summary on stderr when the program is freed.
  bool profile_ = std::getenv("VITNODE_PROFILE") != nullptr;
  std::map<std::string, double> prof_;
  int prof_runs_ = 0;
  const Graph& g_;
  const Plan& p_;
  std::shared_ptr<WeightStore> w_;
  AlignedBuffer arena_;
  std::map<int, const float*> weight_ptr_;
  std::vector<std::unique_ptr<cpu::Step>> steps_;  // nodes that run (Weight nodes only expose memory)
  std::vector<const Node*> nodes_;                 // the node of each step
  std::map<int, std::unique_ptr<Schedule>> schedules_;
  size_t scratch_bytes_ = 0;
  AlignedBuffer scratch_;  // shared by the steps that need scratch (attention's scores, oneDNN convolutions)
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
