// cuda_status(): whether the CUDA backend can run here and, when not, exactly why (for `vitnode doctor`).
#include <cuda_runtime.h>

#include <string>

#include "cuda/cublas-loader.h"
#include "vit/program.h"

namespace vit {

namespace {

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

}  // namespace

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = true;
  int runtime = 0, driver = 0;
  (void)cudaRuntimeGetVersion(&runtime);
  const cudaError_t de = cudaDriverGetVersion(&driver);
  (void)cudaGetLastError();
  if (de != cudaSuccess || driver == 0) {
    s.reason = "no NVIDIA driver: libcuda.so.1 could not be loaded (install the NVIDIA driver; vitnode's CUDA "
               "backend needs one supporting CUDA " + version_text(runtime) + ", i.e. driver >= 580)";
    return s;
  }
  if (driver < runtime) {
    s.reason = "NVIDIA driver too old: it supports CUDA " + version_text(driver) + ", vitnode's CUDA backend is built "
               "with CUDA " + version_text(runtime) + " (needs driver >= 580); update the driver";
    return s;
  }
  int count = 0;
  const cudaError_t ce = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  if (ce == cudaErrorNoDevice || (ce == cudaSuccess && count == 0)) {
    s.reason = "no CUDA device: the NVIDIA driver (CUDA " + version_text(driver) + ") sees no GPU";
    return s;
  }
  if (ce == cudaErrorInsufficientDriver) {
    s.reason = "NVIDIA driver too old: it supports CUDA " + version_text(driver) + ", vitnode needs CUDA " +
               version_text(runtime);
    return s;
  }
  if (ce != cudaSuccess) {
    s.reason = std::string("CUDA initialisation failed: ") + cudaGetErrorName(ce) + " (" + cudaGetErrorString(ce) + ")";
    return s;
  }
  s.device_count = count;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess) {
      s.devices.push_back(std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
                          std::to_string(p.totalGlobalMem >> 20) + " MiB)");
    } else {
      (void)cudaGetLastError();
      s.devices.push_back("device " + std::to_string(i) + " (properties unavailable)");
    }
  }
  std::string why;
  const cuda::CublasApi* api = cuda::cublas_try_load(&why);
  if (!api) {
    s.reason = why;
    return s;
  }
  s.available = true;
  s.reason = "";
  return s;
}

}  // namespace vit
