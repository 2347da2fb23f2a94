// Per-device state shared by every CUDA executor on that device: a caching memory pool, device properties,
// and the device copies of model weights (cached in WeightStore::caches per device and dtype).
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vit/program.h"
#include "vit/weights.h"

namespace vit::cuda {

// Caching allocator: blocks freed by one executor are reused by the next (one Program per input shape).
// On out-of-memory it releases its cached blocks and retries once before throwing ErrorCode::Cuda.
class DevicePool {
 public:
  explicit DevicePool(int device) : device_(device) {}
  ~DevicePool();
  void* alloc(size_t bytes, const std::string& what);
  void release(void* p, size_t bytes) noexcept;
  void trim() noexcept;  // cudaFree every cached block
  size_t cached_bytes() const;

 private:
  static size_t round(size_t bytes);
  int device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;  // size -> block
  size_t cached_ = 0;
};

struct DeviceContext {
  int device = 0;
  cudaDeviceProp props{};
  int sm = 0;  // major * 10 + minor
  DevicePool pool;
  explicit DeviceContext(int dev) : device(dev), pool(dev) {}
  // Created on first use; makes `dev` current on the calling thread. Throws ErrorCode::Cuda.
  static DeviceContext& get(int dev);
};

// Device memory owned by the pool, returned to it on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceContext& ctx, size_t bytes, const std::string& what);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    DeviceBuffer t(std::move(o));
    swap(t);
    return *this;
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void swap(DeviceBuffer& o) noexcept {
    std::swap(ctx_, o.ctx_);
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
  }
  DeviceContext* ctx_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Device copies of one WeightStore's tensors in one dtype, uploaded on first request and kept until the
// store changes (version) or goes away. Thread-safe.
class DeviceWeights {
 public:
  DeviceWeights(DeviceContext& ctx, DType dtype, uint64_t version) : ctx_(ctx), dtype_(dtype), version_(version) {}
  uint64_t version() const { return version_; }
  DType dtype() const { return dtype_; }
  // The weight converted to dtype.
  const void* get(const WeightStore& w, const std::string& key);
  // LayerScale folded in: rows of a [N, ...] weight (or the entries of a [N] bias) times gamma[N].
  const void* get_scaled(const WeightStore& w, const std::string& key, const std::string& gamma_key);
  // A tensor derived from the store (a conv's standardised / BatchNorm-folded weight), converted to dtype and
  // uploaded once under `cache_key`.
  const void* get_derived(const std::string& cache_key, const std::vector<float>& host);
  size_t bytes() const;

 private:
  const void* upload(const std::string& cache_key, const std::vector<float>& host);
  DeviceContext& ctx_;
  DType dtype_;
  uint64_t version_;
  mutable std::mutex mu_;
  std::map<std::string, DeviceBuffer> bufs_;
};

// The store's cache entry "cuda:<device>:<dtype>", created or rebuilt (after a weight changed) here.
std::shared_ptr<DeviceWeights> device_weights(WeightStore& w, DeviceContext& ctx, DType dtype);

// Host-side conversion of float32 to the 16-bit dtypes (round to nearest even), for uploads.
void convert_host(const float* src, void* dst, size_t n, DType dtype);

}  // namespace vit::cuda
