// The CUDA executor: one compute stream per program, activations in one arena (the shared liveness plan,
// core/plan.cc, in bytes, 256-byte aligned), steps from the op registration list (registry.cu), weights shared
// through the device weight cache.
// Inputs go through one of two staging slots (pinned host buffer + device buffer, both in the model dtype): a
// run converts its float32 input into a free slot on the host thread pool (host-stage.h), chunk by chunk, and
// starts each chunk's H2D copy on the copy stream as soon as it is converted, so the PCIe transfer of chunk i
// overlaps the conversion of chunk i+1, 16-bit dtypes cross PCIe at half the bytes, and with two requests in
// flight one's staging overlaps the other's compute. The compute part (slot -> input tensors, every op,
// outputs D2H in the model dtype into the slot's pinned output buffer) is serialised per executor and ends in
// the run's one host synchronisation; outputs are converted to float32 on the host after it. The first run is
// eager (it also settles cuBLAS's lazy setup); later runs capture the compute part as a CUDA graph per slot
// and replay it (eager fallback when capture fails; VITNODE_CUDA_GRAPH=0 disables graphs, VITNODE_CUDA_SYNC=1
// synchronises after every op to name a failing op). VITNODE_CUDA_PROFILE=1: eager runs with a pair of
// events around every op; profile() returns the mean time per op, plus the staging phases.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "cuda/common.cuh"
#include "cuda/context.h"
#include "cuda/cublas-loader.h"
#include "cuda/gemm.cuh"
#include "cuda/host-stage.h"
#include "cuda/ops.cuh"

namespace vit {

namespace cuda {

std::string node_label(const Node& n) { return std::string(op_name(n.op)) + " '" + n.name + "'"; }

const void* OpEnv::weight(const Node& n, const char* role) const {
  const std::string* k = n.weight(role);
  return k ? weights->get(*store, *k) : nullptr;
}

const void* OpEnv::weight_scaled(const Node& n, const char* role, const char* gamma_role) const {
  const std::string* k = n.weight(role);
  const std::string* g = n.weight(gamma_role);
  if (!k) return nullptr;
  return g ? weights->get_scaled(*store, *k, *g) : weights->get(*store, *k);
}

namespace {

constexpr size_t kAlign = 256;
constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // cuBLASLt's recommendation for Hopper

size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

bool env_flag(const char* name, bool dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  return !(v[0] == '0' || v[0] == 'f' || v[0] == 'F' || v[0] == 'n' || v[0] == 'N');
}

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (p_) (void)cudaFreeHost(p_);
  }
  void alloc(size_t bytes, const std::string& what) {
    if (bytes == 0) return;
    VIT_CUDA_CHECK_CTX(cudaHostAlloc(reinterpret_cast<void**>(&p_), bytes, cudaHostAllocDefault),
                       "allocating pinned host memory for " + what);
  }
  char* get() const { return p_; }

 private:
  char* p_ = nullptr;
};

struct Step {
  const Node* node;
  std::string label;
  StepFn fn;
};

struct Slot {
  PinnedBuffer host;     // inputs in the model dtype, packed at in_off_ (bytes)
  DeviceBuffer dev;      // their device copy
  PinnedBuffer out;      // outputs in the model dtype, packed at out_off_ (bytes)
  cudaStream_t copy = nullptr;  // its H2D copies (one stream per slot: two runs' chunks never queue behind each other)
  cudaEvent_t staged = nullptr;
  cudaEvent_t h2d_begin = nullptr, h2d_end = nullptr;  // VITNODE_CUDA_PROFILE only
  cudaGraphExec_t graph = nullptr;
  bool busy = false;
};
constexpr int kSlots = 2;
// H2D chunk: converted on the host pool, then copied while the next chunk converts.
constexpr size_t kStageChunkBytes = size_t(4) << 20;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class CudaExecutor : public Executor {
 public:
  CudaExecutor(const Graph& g, std::shared_ptr<WeightStore> w, const DeviceSpec& dev)
      : g_(g), w_(std::move(w)), dev_(dev) {
    check_supported(g_);  // before any device work: an op may not be on CUDA yet
    const std::string where = "cuda:" + std::to_string(dev.index);
    (void)cublas_api();  // throws, naming every place it looked, when cuBLAS is missing
    ctx_ = &DeviceContext::get(dev.index);
    dw_ = device_weights(*w_, *ctx_, dev.dtype);
    VIT_CUDA_CHECK_CTX(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream on " + where);
    try {
      build(where);
    } catch (...) {
      teardown();
      throw;
    }
  }

  ~CudaExecutor() override {
    std::lock_guard<std::mutex> lock(mu_);
    teardown();
  }

  std::vector<HostTensor> run(const std::vector<const float*>& inputs, int /*threads*/) override {
    VIT_CHECK(inputs.size() == g_.inputs.size(), Argument,
              "expected " + std::to_string(g_.inputs.size()) + " input(s), got " + std::to_string(inputs.size()));
    SlotLease lease(*this);
    Slot& slot = *lease.slot;
    VIT_CUDA_CHECK(cudaSetDevice(dev_.index));
    const double t_stage = now_ms();
    try {
      stage_inputs(slot, inputs);
    } catch (...) {
      (void)cudaStreamSynchronize(slot.copy);  // nothing may still read the pinned buffer
      (void)cudaGetLastError();
      throw;
    }
    const double stage_ms = now_ms() - t_stage;
    // Compute, serialised per executor.
    {
      std::lock_guard<std::mutex> lock(mu_);
      VIT_CUDA_CHECK(cudaSetDevice(dev_.index));
      try {
        if (in_bytes_) VIT_CUDA_CHECK(cudaStreamWaitEvent(stream_, slot.staged, 0));
        if (profile_) {
          enqueue(slot, stream_, sync_each_, true);
        } else if (slot.graph) {
          VIT_CUDA_CHECK_CTX(cudaGraphLaunch(slot.graph, stream_), "replaying the forward's CUDA graph");
        } else if (runs_ > 0 && use_graph_ && capture(slot)) {
          VIT_CUDA_CHECK_CTX(cudaGraphLaunch(slot.graph, stream_), "launching the forward's CUDA graph");
        } else {
          enqueue(slot, stream_, sync_each_, false);
        }
        VIT_CUDA_CHECK_CTX(cudaStreamSynchronize(stream_),
                           "running the forward on cuda:" + std::to_string(dev_.index) +
                               " (asynchronous error; VITNODE_CUDA_SYNC=1 names the op)");
      } catch (...) {
        (void)cudaStreamSynchronize(stream_);  // nothing may still write the pinned buffers
        (void)cudaStreamSynchronize(slot.copy);
        (void)cudaGetLastError();
        throw;
      }
      ++runs_;
      if (profile_ && runs_ > 1) collect_profile(slot, stage_ms);  // the first run also settles lazy setup
    }
    // Outputs: model dtype in the slot's pinned buffer -> float32 host tensors (the slot is still ours).
    const double t_out = now_ms();
    std::vector<HostTensor> out;
    out.reserve(g_.outputs.size());
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      HostTensor t;
      t.shape = g_.shapes[g_.outputs[i].second];
      t.data.resize(static_cast<size_t>(numel(t.shape)));
      host_to_f32_parallel(slot.out.get() + out_off_[i], t.data.data(), t.data.size(), dev_.dtype);
      out.push_back(std::move(t));
    }
    if (profile_) {
      std::lock_guard<std::mutex> lock(prof_mu_);
      if (prof_runs_ > 0) prof_out_ms_ += now_ms() - t_out;  // (approximately the runs collected)
    }
    return out;
  }

  std::vector<ProfileEntry> profile() const override {
    std::lock_guard<std::mutex> lock(prof_mu_);
    std::vector<ProfileEntry> out;
    if (!profile_ || prof_runs_ == 0) return out;
    const double r = static_cast<double>(prof_runs_);
    out.push_back({"(inputs: host convert + H2D issue)", "stage_inputs", prof_stage_ms_ / r, prof_runs_});
    out.push_back({"(inputs: H2D on the copy stream)", "h2d", prof_h2d_ms_ / r, prof_runs_});
    for (size_t i = 0; i < steps_.size(); ++i)
      out.push_back({steps_[i].node->name, op_name(steps_[i].node->op), prof_ms_[i] / r, prof_runs_});
    out.push_back({"(outputs: D2H)", "d2h", prof_d2h_ms_ / r, prof_runs_});
    out.push_back({"(outputs: host convert)", "outputs", prof_out_ms_ / r, prof_runs_});
    return out;
  }

 private:
  struct SlotLease {
    CudaExecutor& ex;
    Slot* slot = nullptr;
    explicit SlotLease(CudaExecutor& e) : ex(e) {
      std::unique_lock<std::mutex> lock(ex.slot_mu_);
      ex.slot_cv_.wait(lock, [&] {
        for (auto& s : ex.slots_)
          if (!s.busy) return true;
        return false;
      });
      for (auto& s : ex.slots_)
        if (!s.busy) {
          slot = &s;
          break;
        }
      slot->busy = true;
    }
    ~SlotLease() {
      {
        std::lock_guard<std::mutex> lock(ex.slot_mu_);
        slot->busy = false;
      }
      ex.slot_cv_.notify_one();
    }
  };

  void build(const std::string& where) {
    const DType dt = dev_.dtype;
    const size_t es = dtype_size(dt);
    profile_ = env_flag("VITNODE_CUDA_PROFILE", false);

    // The shared liveness plan (core/plan.cc), in bytes of the model dtype, 256-byte aligned slots.
    ArenaPlan plan = plan_arena(g_, static_cast<int64_t>(es), static_cast<int64_t>(kAlign));
    offset_ = std::move(plan.offset);
    const size_t arena = static_cast<size_t>(plan.bytes);

    OpEnv env;
    env.graph = &g_;
    env.dtype = dt;
    env.tf32 = dev_.tf32;
    env.ctx = ctx_;
    env.store = w_.get();
    env.weights = dw_.get();
    env.keep = &keep_;
    env.autotune = env_flag("VITNODE_CUDA_AUTOTUNE", true);
    size_t scratch = 0;
    for (const auto& n : g_.nodes) scratch = std::max(scratch, scratch_bytes(env, n));

    arena_ = DeviceBuffer(*ctx_, arena + align_up(scratch) + kAlign, "activations on " + where);
    workspace_ = DeviceBuffer(*ctx_, kWorkspaceBytes, "cuBLAS workspace on " + where);
    char* base = static_cast<char*>(arena_.get());
    env.scratch = scratch ? base + arena : nullptr;
    env.scratch_bytes = scratch;
    env.workspace = workspace_.get();
    env.workspace_bytes = kWorkspaceBytes;
    lt_ = lt_handle_create();
    env.lt = lt_;
    env.blas = [this]() {
      if (!blas_) blas_ = blas_handle_create(workspace_.get(), kWorkspaceBytes, dev_.tf32);
      return blas_;
    };
    for (const auto& n : g_.nodes)  // "weight" is a required role of Weight nodes
      if (n.op == OpKind::Weight) weight_ptr_[n.output] = const_cast<void*>(dw_->get(*w_, *n.weight("weight")));
    env.tensor = [this, base](int id) -> void* {
      if (offset_[id] >= 0) return base + offset_[id];
      auto it = weight_ptr_.find(id);
      VIT_CHECK(it != weight_ptr_.end(), Internal, "tensor " + std::to_string(id) + " has no device memory");
      return it->second;
    };
    tensor_ = env.tensor;

    // Staging in the model dtype: per slot, pinned host inputs + their device copy, and pinned host outputs.
    size_t in_bytes = 0, out_bytes = 0;
    for (int id : g_.inputs) {
      in_off_.push_back(in_bytes);
      in_bytes += align_up(numel(g_.shapes[id]) * es);
    }
    for (const auto& o : g_.outputs) {
      out_off_.push_back(out_bytes);
      out_bytes += align_up(numel(g_.shapes[o.second]) * es);
    }
    in_bytes_ = in_bytes;
    for (auto& slot : slots_) {
      slot.host.alloc(in_bytes, "inputs");
      slot.out.alloc(out_bytes, "outputs");
      if (in_bytes) slot.dev = DeviceBuffer(*ctx_, in_bytes, "staged inputs on " + where);
      VIT_CUDA_CHECK_CTX(cudaStreamCreateWithFlags(&slot.copy, cudaStreamNonBlocking), "creating a copy stream on " + where);
      VIT_CUDA_CHECK(cudaEventCreateWithFlags(&slot.staged, cudaEventDisableTiming));
      if (profile_) {
        VIT_CUDA_CHECK(cudaEventCreate(&slot.h2d_begin));
        VIT_CUDA_CHECK(cudaEventCreate(&slot.h2d_end));
      }
    }

    for (const auto& n : g_.nodes) {
      Step s{&n, node_label(n), nullptr};
      try {
        s.fn = make_step(env, n);
      } catch (const error& e) {
        const std::string msg = e.what();
        if (msg.find(s.label) != std::string::npos) throw;
        throw error(e.code(), s.label + ": " + msg);
      }
      if (s.fn) steps_.push_back(std::move(s));
    }
    use_graph_ = env_flag("VITNODE_CUDA_GRAPH", true);
    sync_each_ = env_flag("VITNODE_CUDA_SYNC", false);
    if (profile_) {
      prof_ev_.assign(steps_.size() + 2, nullptr);
      for (auto& e : prof_ev_) VIT_CUDA_CHECK(cudaEventCreate(&e));
      prof_ms_.assign(steps_.size(), 0.0);
    }
  }

  // Host: float32 -> model dtype straight into the slot's pinned buffer, one chunk at a time on the host pool;
  // each chunk's H2D copy is queued on the copy stream as soon as it is converted.
  void stage_inputs(Slot& slot, const std::vector<const float*>& inputs) {
    if (!in_bytes_) return;
    const DType dt = dev_.dtype;
    const size_t es = dtype_size(dt), chunk = kStageChunkBytes / es;
    if (profile_) VIT_CUDA_CHECK(cudaEventRecord(slot.h2d_begin, slot.copy));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const size_t n = static_cast<size_t>(numel(g_.shapes[g_.inputs[i]]));
      for (size_t a = 0; a < n; a += chunk) {
        const size_t m = std::min(chunk, n - a);
        char* h = slot.host.get() + in_off_[i] + a * es;
        host_from_f32_parallel(inputs[i] + a, h, m, dt);
        VIT_CUDA_CHECK_CTX(cudaMemcpyAsync(static_cast<char*>(slot.dev.get()) + in_off_[i] + a * es, h, m * es,
                                           cudaMemcpyHostToDevice, slot.copy),
                           "copying input " + std::to_string(i) + " to the device");
      }
    }
    if (profile_) VIT_CUDA_CHECK(cudaEventRecord(slot.h2d_end, slot.copy));
    VIT_CUDA_CHECK(cudaEventRecord(slot.staged, slot.copy));
  }

  // After the run's synchronisation, under mu_.
  void collect_profile(Slot& slot, double stage_ms) {
    std::lock_guard<std::mutex> lock(prof_mu_);
    float ms = 0;
    for (size_t i = 0; i < steps_.size(); ++i) {
      VIT_CUDA_CHECK(cudaEventElapsedTime(&ms, prof_ev_[i], prof_ev_[i + 1]));
      prof_ms_[i] += ms;
    }
    VIT_CUDA_CHECK(cudaEventElapsedTime(&ms, prof_ev_[steps_.size()], prof_ev_[steps_.size() + 1]));
    prof_d2h_ms_ += ms;
    if (in_bytes_) {
      VIT_CUDA_CHECK(cudaEventElapsedTime(&ms, slot.h2d_begin, slot.h2d_end));
      prof_h2d_ms_ += ms;
    }
    prof_stage_ms_ += stage_ms;
    ++prof_runs_;
  }

  // The compute part of a run: slot -> input tensors, every op, outputs -> the slot's pinned host buffer
  // (model dtype). profile: events around every op (eager runs only).
  void enqueue(Slot& slot, cudaStream_t s, bool sync_each, bool profile) {
    const size_t es = dtype_size(dev_.dtype);
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      const int id = g_.inputs[i];
      const int64_t n = numel(g_.shapes[id]);
      if (!n) continue;
      VIT_CUDA_CHECK_CTX(cudaMemcpyAsync(tensor_(id), static_cast<const char*>(slot.dev.get()) + in_off_[i], n * es,
                                         cudaMemcpyDeviceToDevice, s),
                         "placing input " + std::to_string(i));
    }
    for (size_t k = 0; k < steps_.size(); ++k) {
      auto& st = steps_[k];
      try {
        if (profile) VIT_CUDA_CHECK(cudaEventRecord(prof_ev_[k], s));
        st.fn(s);
        if (sync_each) VIT_CUDA_CHECK(cudaStreamSynchronize(s));
      } catch (const error& e) {
        const std::string msg = e.what();
        if (msg.find(st.label) != std::string::npos) throw;
        throw error(e.code(), st.label + ": " + msg);
      }
    }
    if (profile) VIT_CUDA_CHECK(cudaEventRecord(prof_ev_[steps_.size()], s));
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const int id = g_.outputs[i].second;
      const int64_t n = numel(g_.shapes[id]);
      if (!n) continue;
      VIT_CUDA_CHECK_CTX(cudaMemcpyAsync(slot.out.get() + out_off_[i], tensor_(id), n * es, cudaMemcpyDeviceToHost, s),
                         "copying output '" + g_.outputs[i].first + "' to the host");
    }
    if (profile) VIT_CUDA_CHECK(cudaEventRecord(prof_ev_[steps_.size() + 1], s));
  }

  // Captures enqueue() as a CUDA graph; false (and eager from then on) when anything refuses capture.
  bool capture(Slot& slot) {
    cudaGraph_t graph = nullptr;
    if (cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
      (void)cudaGetLastError();
      use_graph_ = false;
      return false;
    }
    bool ok = true;
    try {
      enqueue(slot, stream_, false, false);
    } catch (...) {
      ok = false;
    }
    const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
    if (e != cudaSuccess || !ok || !graph) {
      if (graph) (void)cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      use_graph_ = false;
      return false;
    }
    const cudaError_t ie = cudaGraphInstantiate(&slot.graph, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (ie != cudaSuccess) {
      slot.graph = nullptr;
      (void)cudaGetLastError();
      use_graph_ = false;
      return false;
    }
    return true;
  }

  void teardown() noexcept {
    if (!stream_) return;
    (void)cudaSetDevice(dev_.index);
    (void)cudaStreamSynchronize(stream_);
    for (auto& slot : slots_)
      if (slot.copy) (void)cudaStreamSynchronize(slot.copy);
    for (auto& slot : slots_) {
      if (slot.graph) (void)cudaGraphExecDestroy(slot.graph);
      slot.graph = nullptr;
      for (cudaEvent_t* e : {&slot.staged, &slot.h2d_begin, &slot.h2d_end}) {
        if (*e) (void)cudaEventDestroy(*e);
        *e = nullptr;
      }
      slot.dev = DeviceBuffer();
    }
    steps_.clear();  // GEMM descriptors before the handle
    keep_.clear();
    if (blas_) blas_handle_destroy(blas_);
    blas_ = nullptr;
    if (lt_) lt_handle_destroy(lt_);
    lt_ = nullptr;
    for (auto& e : prof_ev_)
      if (e) (void)cudaEventDestroy(e);
    prof_ev_.clear();
    arena_ = DeviceBuffer();
    workspace_ = DeviceBuffer();
    for (auto& slot : slots_) {
      if (slot.copy) (void)cudaStreamDestroy(slot.copy);
      slot.copy = nullptr;
    }
    (void)cudaStreamDestroy(stream_);
    stream_ = nullptr;
    (void)cudaGetLastError();
  }

  Graph g_;
  std::shared_ptr<WeightStore> w_;
  DeviceSpec dev_;
  DeviceContext* ctx_ = nullptr;
  std::shared_ptr<DeviceWeights> dw_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  DeviceBuffer arena_, workspace_;
  Slot slots_[kSlots];
  std::mutex slot_mu_;
  std::condition_variable slot_cv_;
  size_t in_bytes_ = 0;
  std::vector<size_t> in_off_, out_off_;  // bytes into a slot's buffers
  std::vector<int64_t> offset_;
  std::map<int, void*> weight_ptr_;
  std::function<void*(int)> tensor_;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<Step> steps_;
  bool use_graph_ = true, sync_each_ = false, profile_ = false;
  int64_t runs_ = 0;
  std::mutex mu_;
  // VITNODE_CUDA_PROFILE: events before every step (+ after the last step and after the D2H), and totals.
  std::vector<cudaEvent_t> prof_ev_;
  mutable std::mutex prof_mu_;
  std::vector<double> prof_ms_;
  double prof_stage_ms_ = 0, prof_h2d_ms_ = 0, prof_d2h_ms_ = 0, prof_out_ms_ = 0;
  int64_t prof_runs_ = 0;
};

}  // namespace

}  // namespace cuda

std::unique_ptr<Executor> make_cuda_executor(const Graph& g, const Plan& /*p: the CPU's float32 plan; CUDA plans
                                                                             in bytes of its dtype (plan_arena)*/,
                                             std::shared_ptr<WeightStore> w, const DeviceSpec& dev) {
  VIT_CHECK(w, Argument, "make_cuda_executor: no weight store");
  return std::make_unique<cuda::CudaExecutor>(g, std::move(w), dev);
}

}  // namespace vit
