// A compiled graph for one input shape: buffers planned once, run many times by one backend executor.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "vit/graph.h"
#include "vit/weights.h"

namespace vit {

// Liveness-based buffer plan (core/plan.cc, both backends): every non-weight tensor gets an offset in one arena,
// first fit, released after the last node that reads it. Offsets in bytes, slots of elem_bytes * numel rounded
// up to `align`.
struct ArenaPlan {
  std::vector<int64_t> offset;  // per tensor id; -1 for Weight-op outputs (they alias weights)
  int64_t bytes = 0;
};
ArenaPlan plan_arena(const Graph& g, int64_t elem_bytes, int64_t align);
// The CPU's float32 plan, offsets in floats (64-byte slots).
struct Plan {
  std::vector<int64_t> offset;  // per tensor id; -1 for Weight-op outputs
  int64_t arena_floats = 0;
};
Plan plan_buffers(const Graph& g);
void validate_graph(const Graph& g, const WeightStore& w);  // shapes, ids, weight keys

struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

enum class DType { F32, F16, BF16 };

struct DeviceSpec {
  bool cuda = false;
  int index = 0;
  DType dtype = DType::F32;
  bool tf32 = false;
};

// Mean time per run of one node (or of a transfer phase, op "stage_inputs" / "h2d" / "d2h" / "outputs").
struct ProfileEntry {
  std::string name, op;
  double ms = 0;
  int64_t runs = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // inputs: one pointer per graph input (float32, graph shape). Outputs in graph order.
  virtual std::vector<HostTensor> run(const std::vector<const float*>& inputs, int threads) = 0;
  // Per-node times when the backend profiles (CUDA with VITNODE_CUDA_PROFILE=1); empty otherwise.
  virtual std::vector<ProfileEntry> profile() const { return {}; }
};

// dev.dtype BF16 (opt-in): GEMMs (Linear, PatchEmbed) in bfloat16 with float32 accumulation and output, on CPUs
// with AVX512-BF16; everything else stays float32. F16 is CUDA-only.
std::unique_ptr<Executor> make_cpu_executor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w,
                                            const DeviceSpec& dev = {});
// Defined in cuda/ when built with CUDA; otherwise throws Unsupported ("built without CUDA").
std::unique_ptr<Executor> make_cuda_executor(const Graph& g, const Plan& p, std::shared_ptr<WeightStore> w,
                                             const DeviceSpec& dev);

class Program {
 public:
  Program(Graph g, std::shared_ptr<WeightStore> w, const DeviceSpec& dev);
  ~Program();
  std::vector<HostTensor> run(const std::vector<const float*>& inputs, int threads);
  std::vector<ProfileEntry> profile() const { return exec_->profile(); }
  const Graph& graph() const { return graph_; }
  const Plan& plan() const { return plan_; }

 private:
  Graph graph_;
  Plan plan_;
  std::shared_ptr<WeightStore> weights_;
  std::unique_ptr<Executor> exec_;
};

// Whether a backend has a kernel for an op (cpu/registry.cc, cuda/registry.cu): creating a program with an op
// its backend lacks fails with VIT_E_UNSUPPORTED, so an op can land on one backend first.
bool cpu_supports(OpKind op);
bool cuda_supports(OpKind op);  // false in a build without CUDA

// Backend availability, for `vitnode doctor`.
struct CudaStatus {
  bool compiled = false;
  bool available = false;
  std::string reason;  // why not available
  int device_count = 0;
  std::vector<std::string> devices;
};
CudaStatus cuda_status();

}  // namespace vit
