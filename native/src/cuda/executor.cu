// The CUDA executor: one compute stream per program, activations in one arena planned here (byte offsets,
// 256-byte aligned, liveness first-fit), weights shared through the device weight cache.
// Inputs go through one of two staging slots (pinned host buffer + float32 device buffer): a run copies its
// input into a free slot and starts the H2D copy on the copy stream without waiting for the run before it, so
// with two requests in flight the transfer of one overlaps the other's compute. The compute part (convert
// the slot into the input tensors, every op, outputs to float32 + D2H into pinned memory) is serialised per
// executor and ends in the run's one host synchronisation. The first run is eager (it also settles cuBLAS's
// lazy setup); later runs capture the compute part as a CUDA graph per slot and replay it (eager fallback
// when capture fails; VITNODE_CUDA_GRAPH=0 disables graphs, VITNODE_CUDA_SYNC=1 synchronises after every op
// to name a failing op).
#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "cuda/common.cuh"
#include "cuda/context.h"
#include "cuda/cublas-loader.h"
#include "cuda/gemm.cuh"
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

size_t scratch_bytes(const OpEnv& env, const Node& n) {
  switch (n.op) {
    case OpKind::PatchEmbed: return patch_embed_scratch_bytes(env, n);
    case OpKind::Attention: return attention_scratch_bytes(env, n);
    default: return 0;
  }
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
  void alloc(size_t floats, const std::string& what) {
    if (floats == 0) return;
    VIT_CUDA_CHECK_CTX(cudaHostAlloc(reinterpret_cast<void**>(&p_), floats * sizeof(float), cudaHostAllocDefault),
                       "allocating pinned host memory for " + what);
  }
  float* get() const { return p_; }

 private:
  float* p_ = nullptr;
};

struct Step {
  const Node* node;
  std::string label;
  StepFn fn;
};

struct Slot {
  PinnedBuffer host;     // float32 inputs, packed at in_off_
  DeviceBuffer dev;      // their device copy
  cudaEvent_t staged = nullptr;
  cudaGraphExec_t graph = nullptr;
  bool busy = false;
};
constexpr int kSlots = 2;

class CudaExecutor : public Executor {
 public:
  CudaExecutor(const Graph& g, std::shared_ptr<WeightStore> w, const DeviceSpec& dev)
      : g_(g), w_(std::move(w)), dev_(dev) {
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
    // Stage: host copy into the slot's pinned buffer, H2D on the copy stream (overlaps another run's compute).
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t n = numel(g_.shapes[g_.inputs[i]]);
      if (n) std::memcpy(slot.host.get() + in_off_[i], inputs[i], n * sizeof(float));
    }
    if (in_floats_) {
      VIT_CUDA_CHECK_CTX(cudaMemcpyAsync(slot.dev.get(), slot.host.get(), in_floats_ * sizeof(float),
                                         cudaMemcpyHostToDevice, copy_stream_),
                         "copying the inputs to the device");
      VIT_CUDA_CHECK(cudaEventRecord(slot.staged, copy_stream_));
    }
    // Compute, serialised per executor.
    std::lock_guard<std::mutex> lock(mu_);
    VIT_CUDA_CHECK(cudaSetDevice(dev_.index));
    try {
      if (in_floats_) VIT_CUDA_CHECK(cudaStreamWaitEvent(stream_, slot.staged, 0));
      if (slot.graph) {
        VIT_CUDA_CHECK_CTX(cudaGraphLaunch(slot.graph, stream_), "replaying the forward's CUDA graph");
      } else if (runs_ > 0 && use_graph_ && capture(slot)) {
        VIT_CUDA_CHECK_CTX(cudaGraphLaunch(slot.graph, stream_), "launching the forward's CUDA graph");
      } else {
        enqueue(slot, stream_, sync_each_);
      }
      VIT_CUDA_CHECK_CTX(cudaStreamSynchronize(stream_),
                         "running the forward on cuda:" + std::to_string(dev_.index) +
                             " (asynchronous error; VITNODE_CUDA_SYNC=1 names the op)");
    } catch (...) {
      (void)cudaStreamSynchronize(stream_);  // nothing may still write the pinned buffers
      (void)cudaStreamSynchronize(copy_stream_);
      (void)cudaGetLastError();
      throw;
    }
    ++runs_;
    std::vector<HostTensor> out;
    out.reserve(g_.outputs.size());
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      HostTensor t;
      t.shape = g_.shapes[g_.outputs[i].second];
      const float* src = out_host_.get() + out_off_[i];
      t.data.assign(src, src + numel(t.shape));
      out.push_back(std::move(t));
    }
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
    const int nt = static_cast<int>(g_.shapes.size()), nn = static_cast<int>(g_.nodes.size());

    // Liveness plan in bytes (outputs never share memory with their node's inputs).
    std::vector<int> last_use(nt, -1);
    std::vector<bool> is_weight(nt, false);
    for (int i = 0; i < nn; ++i) {
      for (int id : g_.nodes[i].inputs) last_use[id] = std::max(last_use[id], i);
      if (g_.nodes[i].op == OpKind::Weight) is_weight[g_.nodes[i].output] = true;
    }
    for (const auto& o : g_.outputs) last_use[o.second] = nn;
    offset_.assign(nt, -1);
    std::map<size_t, size_t> used;
    size_t arena = 0;
    auto place = [&](int id) {
      const size_t size = align_up(std::max<size_t>(1, numel(g_.shapes[id]) * es));
      size_t at = 0;
      for (const auto& kv : used) {
        if (kv.first >= at + size) break;
        at = std::max(at, kv.first + kv.second);
      }
      used[at] = size;
      offset_[id] = static_cast<int64_t>(at);
      arena = std::max(arena, at + size);
    };
    auto release = [&](int step) {
      for (int id = 0; id < nt; ++id)
        if (offset_[id] >= 0 && last_use[id] <= step && used.count(offset_[id]) && !released_[id]) {
          used.erase(offset_[id]);
          released_[id] = true;
        }
    };
    released_.assign(nt, false);
    for (int id : g_.inputs) place(id);
    for (int i = 0; i < nn; ++i) {
      const Node& n = g_.nodes[i];
      if (!is_weight[n.output]) place(n.output);
      release(i);
    }

    OpEnv env;
    env.graph = &g_;
    env.dtype = dt;
    env.tf32 = dev_.tf32;
    env.ctx = ctx_;
    env.store = w_.get();
    env.weights = dw_.get();
    env.keep = &keep_;
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
    for (const auto& n : g_.nodes)
      if (n.op == OpKind::Weight) {
        const std::string* k = n.weight("weight");
        if (!k && !n.weights.empty()) k = &n.weights.begin()->second;
        VIT_CHECK(k, Argument, node_label(n) + ": no weight key");
        weight_ptr_[n.output] = const_cast<void*>(dw_->get(*w_, *k));
      }
    env.tensor = [this, base](int id) -> void* {
      if (offset_[id] >= 0) return base + offset_[id];
      auto it = weight_ptr_.find(id);
      VIT_CHECK(it != weight_ptr_.end(), Internal, "tensor " + std::to_string(id) + " has no device memory");
      return it->second;
    };
    tensor_ = env.tensor;

    // Staging: float32 inputs / outputs, pinned on the host; a float32 device copy when dtype is 16-bit.
    size_t in_floats = 0, out_floats = 0;
    for (int id : g_.inputs) {
      in_off_.push_back(in_floats);
      in_floats += align_up(numel(g_.shapes[id]) * 4) / 4;
    }
    for (const auto& o : g_.outputs) {
      out_off_.push_back(out_floats);
      out_floats += align_up(numel(g_.shapes[o.second]) * 4) / 4;
    }
    in_floats_ = in_floats;
    VIT_CUDA_CHECK_CTX(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking), "creating a copy stream on " + where);
    for (auto& slot : slots_) {
      slot.host.alloc(in_floats, "inputs");
      if (in_floats) slot.dev = DeviceBuffer(*ctx_, in_floats * 4, "float32 inputs on " + where);
      VIT_CUDA_CHECK(cudaEventCreateWithFlags(&slot.staged, cudaEventDisableTiming));
    }
    out_host_.alloc(out_floats, "outputs");
    if (dt != DType::F32 && out_floats) out_dev_ = DeviceBuffer(*ctx_, out_floats * 4, "float32 outputs on " + where);

    for (const auto& n : g_.nodes) {
      Step s{&n, node_label(n), nullptr};
      try {
        switch (n.op) {
          case OpKind::Weight: break;
          case OpKind::PatchEmbed: s.fn = op_patch_embed(env, n); break;
          case OpKind::ConcatPrefix: s.fn = op_concat_prefix(env, n); break;
          case OpKind::Add: s.fn = op_add(env, n); break;
          case OpKind::LayerNorm: s.fn = op_layer_norm(env, n); break;
          case OpKind::Linear: s.fn = op_linear(env, n); break;
          case OpKind::Attention: s.fn = op_attention(env, n); break;
          case OpKind::Pool: s.fn = op_pool(env, n); break;
          case OpKind::Tanh: s.fn = op_tanh(env, n); break;
          case OpKind::Gelu: s.fn = op_gelu(env, n); break;
          case OpKind::Softmax: s.fn = op_softmax(env, n); break;
          case OpKind::SliceTokens: s.fn = op_slice_tokens(env, n); break;
          case OpKind::TokensToNchw: s.fn = op_tokens_to_nchw(env, n); break;
          case OpKind::PosResample: s.fn = op_pos_resample(env, n); break;
          case OpKind::Conv2d: case OpKind::GroupNorm: case OpKind::Relu: case OpKind::MaxPool2d: case OpKind::AvgPool2d:
            fail(ErrorCode::Unsupported, "hybrid ops not on CUDA yet (" + node_label(n) + "); run hybrid models with device 'cpu'");
          default:
            fail(ErrorCode::Unsupported, "the CUDA backend has no kernel for op " + std::to_string(static_cast<int>(n.op)) +
                                             " ('" + n.name + "')");
        }
      } catch (const error& e) {
        const std::string msg = e.what();
        if (msg.find(s.label) != std::string::npos) throw;
        throw error(e.code(), s.label + ": " + msg);
      }
      if (s.fn) steps_.push_back(std::move(s));
    }
    use_graph_ = env_flag("VITNODE_CUDA_GRAPH", true);
    sync_each_ = env_flag("VITNODE_CUDA_SYNC", false);
  }

  // The compute part of a run: slot -> input tensors, every op, outputs -> pinned host memory.
  void enqueue(Slot& slot, cudaStream_t s, bool sync_each) {
    const DType dt = dev_.dtype;
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      const int id = g_.inputs[i];
      const int64_t n = numel(g_.shapes[id]);
      if (!n) continue;
      const float* src = static_cast<const float*>(slot.dev.get()) + in_off_[i];
      if (dt == DType::F32)
        VIT_CUDA_CHECK_CTX(cudaMemcpyAsync(tensor_(id), src, n * sizeof(float), cudaMemcpyDeviceToDevice, s),
                           "placing input " + std::to_string(i));
      else
        convert_from_f32(src, tensor_(id), n, dt, s);
    }
    for (auto& st : steps_) {
      try {
        st.fn(s);
        if (sync_each) VIT_CUDA_CHECK(cudaStreamSynchronize(s));
      } catch (const error& e) {
        const std::string msg = e.what();
        if (msg.find(st.label) != std::string::npos) throw;
        throw error(e.code(), st.label + ": " + msg);
      }
    }
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const int id = g_.outputs[i].second;
      const int64_t n = numel(g_.shapes[id]);
      if (!n) continue;
      const float* src = static_cast<const float*>(tensor_(id));
      if (dt != DType::F32) {
        float* tmp = static_cast<float*>(out_dev_.get()) + out_off_[i];
        convert_to_f32(tensor_(id), tmp, n, dt, s);
        src = tmp;
      }
      VIT_CUDA_CHECK_CTX(
          cudaMemcpyAsync(out_host_.get() + out_off_[i], src, n * sizeof(float), cudaMemcpyDeviceToHost, s),
          "copying output '" + g_.outputs[i].first + "' to the host");
    }
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
      enqueue(slot, stream_, false);
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
    if (copy_stream_) (void)cudaStreamSynchronize(copy_stream_);
    for (auto& slot : slots_) {
      if (slot.graph) (void)cudaGraphExecDestroy(slot.graph);
      slot.graph = nullptr;
      if (slot.staged) (void)cudaEventDestroy(slot.staged);
      slot.staged = nullptr;
      slot.dev = DeviceBuffer();
    }
    steps_.clear();  // GEMM descriptors before the handle
    keep_.clear();
    if (blas_) blas_handle_destroy(blas_);
    blas_ = nullptr;
    if (lt_) lt_handle_destroy(lt_);
    lt_ = nullptr;
    arena_ = DeviceBuffer();
    workspace_ = DeviceBuffer();
    out_dev_ = DeviceBuffer();
    if (copy_stream_) (void)cudaStreamDestroy(copy_stream_);
    copy_stream_ = nullptr;
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
  cudaStream_t copy_stream_ = nullptr;
  DeviceBuffer arena_, workspace_, out_dev_;
  Slot slots_[kSlots];
  std::mutex slot_mu_;
  std::condition_variable slot_cv_;
  size_t in_floats_ = 0;
  PinnedBuffer out_host_;
  std::vector<size_t> in_off_, out_off_;
  std::vector<int64_t> offset_;
  std::vector<bool> released_;
  std::map<int, void*> weight_ptr_;
  std::function<void*(int)> tensor_;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<Step> steps_;
  bool use_graph_ = true, sync_each_ = false;
  int64_t runs_ = 0;
  std::mutex mu_;
};

}  // namespace

}  // namespace cuda

std::unique_ptr<Executor> make_cuda_executor(const Graph& g, const Plan& /*p: offsets are in floats; the CUDA
                                                                             plan is redone in bytes, aligned*/,
                                             std::shared_ptr<WeightStore> w, const DeviceSpec& dev) {
  VIT_CHECK(w, Argument, "make_cuda_executor: no weight store");
  return std::make_unique<cuda::CudaExecutor>(g, std::move(w), dev);
}

}  // namespace vit
