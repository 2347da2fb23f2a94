// Device contexts, the caching memory pool and the device weight cache.
#include <algorithm>
#include <cstring>

#include "cuda/common.cuh"
#include "cuda/context.h"
#include "cuda/host-stage.h"

namespace vit::cuda {

void throw_cuda(cudaError_t e, const char* stmt, const char* file, int line, const std::string& ctx) {
  (void)cudaGetLastError();  // clear a non-sticky error so the executor stays usable
  const char* base = std::strrchr(file, '/');
  std::string msg = ctx.empty() ? std::string() : ctx + ": ";
  msg += "CUDA error " + std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ") in `" + stmt + "` at " +
         (base ? base + 1 : file) + ":" + std::to_string(line);
  if (e == cudaErrorMemoryAllocation) msg += " (out of device memory: use a smaller batch or free other programs)";
  throw error(ErrorCode::Cuda, msg);
}

// ---- DevicePool ----

size_t DevicePool::round(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t small = 1 << 20, big = 2 << 20;
  if (bytes <= small) {  // powers of two up to 1 MiB
    size_t s = 512;
    while (s < bytes) s <<= 1;
    return s;
  }
  return (bytes + big - 1) / big * big;
}

DevicePool::~DevicePool() { trim(); }

void* DevicePool::alloc(size_t bytes, const std::string& what) {
  const size_t size = round(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Exact-size reuse, or a block up to 25% larger (activation arenas of neighbouring shapes).
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= size + size / 4) {
      void* p = it->second;
      cached_ -= it->first;
      free_.erase(it);
      return p;  // note: the block keeps its original (larger) size; release() gets called with `bytes`
    }
  }
  VIT_CUDA_CHECK(cudaSetDevice(device_));
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    trim();
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    size_t free_b = 0, total_b = 0;
    (void)cudaGetLastError();
    (void)cudaMemGetInfo(&free_b, &total_b);
    (void)cudaGetLastError();
    throw_cuda(e, "cudaMalloc", __FILE__, __LINE__,
               "allocating " + std::to_string(size >> 20) + " MiB for " + what + " on cuda:" + std::to_string(device_) +
                   " (" + std::to_string(free_b >> 20) + " of " + std::to_string(total_b >> 20) + " MiB free)");
  }
  return p;
}

void DevicePool::release(void* p, size_t bytes) noexcept {
  if (!p) return;
  // Blocks handed out by reuse may be larger than `bytes` rounds to; recording the smaller size only
  // under-reports what is cached, which is safe.
  const size_t size = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  free_.emplace(size, p);
  cached_ += size;
}

void DevicePool::trim() noexcept {
  std::multimap<size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks.swap(free_);
    cached_ = 0;
  }
  if (blocks.empty()) return;
  int cur = -1;
  (void)cudaGetDevice(&cur);
  (void)cudaSetDevice(device_);
  (void)cudaDeviceSynchronize();  // blocks may still be read by work in flight on another stream
  for (auto& kv : blocks) (void)cudaFree(kv.second);
  if (cur >= 0) (void)cudaSetDevice(cur);
  (void)cudaGetLastError();
}

size_t DevicePool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

// ---- DeviceContext ----

DeviceContext& DeviceContext::get(int dev) {
  static std::mutex mu;
  static std::vector<DeviceContext*> ctxs;  // never destroyed: CUDA may be torn down before static destructors
  std::lock_guard<std::mutex> lock(mu);
  int count = 0;
  VIT_CUDA_CHECK_CTX(cudaGetDeviceCount(&count), "listing CUDA devices");
  if (dev < 0 || dev >= count)
    fail(ErrorCode::Argument, "cuda:" + std::to_string(dev) + " requested but this machine has " +
                                  std::to_string(count) + " CUDA device(s)");
  if (ctxs.size() < static_cast<size_t>(count)) ctxs.resize(count, nullptr);
  VIT_CUDA_CHECK(cudaSetDevice(dev));
  if (!ctxs[dev]) {
    auto* c = new DeviceContext(dev);
    cudaError_t e = cudaGetDeviceProperties(&c->props, dev);
    if (e != cudaSuccess) {
      delete c;
      VIT_CUDA_CHECK_CTX(e, "cuda:" + std::to_string(dev));
    }
    c->sm = c->props.major * 10 + c->props.minor;
    ctxs[dev] = c;
  }
  return *ctxs[dev];
}

// ---- DeviceBuffer ----

DeviceBuffer::DeviceBuffer(DeviceContext& ctx, size_t bytes, const std::string& what)
    : ctx_(&ctx), ptr_(ctx.pool.alloc(bytes, what)), bytes_(bytes) {}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) ctx_->pool.release(ptr_, bytes_);
}

// ---- weights ----


void convert_host(const float* src, void* dst, size_t n, DType dtype) { host_from_f32_parallel(src, dst, n, dtype); }

const void* DeviceWeights::upload(const std::string& cache_key, const std::vector<float>& host) {
  std::vector<unsigned char> conv(host.size() * dtype_size(dtype_));
  convert_host(host.data(), conv.data(), host.size(), dtype_);
  DeviceBuffer buf(ctx_, std::max<size_t>(conv.size(), 1), "weight " + cache_key);
  VIT_CUDA_CHECK_CTX(cudaSetDevice(ctx_.device), "uploading weight " + cache_key);
  VIT_CUDA_CHECK_CTX(cudaMemcpy(buf.get(), conv.data(), conv.size(), cudaMemcpyHostToDevice),
                     "uploading weight " + cache_key);
  const void* p = buf.get();
  bufs_[cache_key] = std::move(buf);
  return p;
}

const void* DeviceWeights::get(const WeightStore& w, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bufs_.find(key);
  if (it != bufs_.end()) return it->second.get();
  const Weight& src = w.get(key);
  const size_t n = static_cast<size_t>(numel(src.shape));
  std::vector<float> host(src.data.get(), src.data.get() + n);
  return upload(key, host);
}

const void* DeviceWeights::get_scaled(const WeightStore& w, const std::string& key, const std::string& gamma_key) {
  const std::string ck = key + "*" + gamma_key;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bufs_.find(ck);
  if (it != bufs_.end()) return it->second.get();
  const Weight& src = w.get(key);
  const Weight& g = w.get(gamma_key);
  const int64_t rows = src.shape.empty() ? 1 : src.shape[0];
  const int64_t n = numel(src.shape), per = rows ? n / rows : 0;
  VIT_CHECK(numel(g.shape) == rows, Shape,
            "LayerScale " + gamma_key + " has " + std::to_string(numel(g.shape)) + " entries, " + key + " has " +
                std::to_string(rows) + " rows");
  std::vector<float> host(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < per; ++j) host[r * per + j] = src.data.get()[r * per + j] * g.data.get()[r];
  return upload(ck, host);
}

const void* DeviceWeights::get_derived(const std::string& cache_key, const std::vector<float>& host) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bufs_.find(cache_key);
  if (it != bufs_.end()) return it->second.get();
  return upload(cache_key, host);
}

size_t DeviceWeights::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t b = 0;
  for (const auto& kv : bufs_) b += kv.second.bytes();
  return b;
}

std::shared_ptr<DeviceWeights> device_weights(WeightStore& w, DeviceContext& ctx, DType dtype) {
  const std::string key = "cuda:" + std::to_string(ctx.device) + ":" + dtype_name(dtype);
  std::lock_guard<std::mutex> lock(w.cache_mutex);
  auto it = w.caches.find(key);
  if (it != w.caches.end()) {
    auto dw = std::static_pointer_cast<DeviceWeights>(it->second);
    if (dw->version() == w.version()) return dw;
  }
  auto dw = std::make_shared<DeviceWeights>(ctx, dtype, w.version());
  w.caches[key] = dw;
  return dw;
}

}  // namespace vit::cuda
