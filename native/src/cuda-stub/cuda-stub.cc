// Linked instead of cuda/ when the build had no nvcc: the same API, reporting why CUDA is unavailable.
#include "vit/error.h"
#include "vit/program.h"

namespace vit {

std::unique_ptr<Executor> make_cuda_executor(const Graph&, const Plan&, std::shared_ptr<WeightStore>, const DeviceSpec&) {
  fail(ErrorCode::Unsupported, "CUDA is unavailable: this vitnode binary was built without CUDA (nvcc was not found at build time)");
}

bool cuda_supports(OpKind) { return false; }

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = false;
  s.available = false;
  s.reason = "this vitnode binary was built without CUDA (nvcc was not found at build time)";
  return s;
}

}  // namespace vit
