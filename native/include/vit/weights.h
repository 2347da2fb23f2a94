// Model weights in native memory, keyed by timm state_dict names. Host copies are float32; backends keep
// their own prepared forms (packed CPU layouts, device copies) in `caches`, built once per store.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vit {

// Large buffers (>= 1 MiB: weights, arenas) are mapped pages of their own, returned to the OS when freed; glibc's
// heap would keep them once its dynamic mmap threshold has grown (after the first large free), which made the
// float32 weights released by CPU packing stay resident and doubled peak RSS at the first forward.
struct AlignedFree {
  size_t mapped_bytes = 0;  // 0: from aligned_alloc
  void operator()(float* p) const;
};
using AlignedBuffer = std::unique_ptr<float[], AlignedFree>;
AlignedBuffer aligned_alloc_f32(size_t n);

struct Weight {
  std::vector<int64_t> shape;
  AlignedBuffer data;
  size_t size() const;
};

class WeightStore {
 public:
  WeightStore();
  ~WeightStore();
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;
  void set(const std::string& name, std::vector<int64_t> shape, const float* data);
  void set_owned(const std::string& name, std::vector<int64_t> shape, AlignedBuffer data);
  // Throws VIT_E_CHECKPOINT naming the key. A released host copy (below) is rebuilt here on first use and kept.
  const Weight& get(const std::string& name) const;
  const std::vector<int64_t>& shape(const std::string& name) const;  // never rebuilds a released host copy
  // The host copy if resident, else nullptr (never rebuilds it); throws like get() for an unknown key.
  const float* host_or_null(const std::string& name) const;
  // Drop the float32 host copy of a weight a backend holds in another form (the CPU backend's packed GEMM
  // layout), keeping only `restore`, which rewrites the row-major float32 values into a buffer of size() floats.
  // Halves resident weight memory for CPU models; get() (getWeight, the CUDA uploader) rebuilds on demand.
  void release_host(const std::string& name, std::function<void(float*)> restore);
  bool has(const std::string& name) const { return weights_.count(name) != 0; }
  std::vector<std::string> names() const;
  size_t bytes() const;
  // Bumped whenever a weight is replaced (not when a new key is added), so backend caches know to rebuild.
  uint64_t version() const { return version_; }

  // Backend-owned derived data (packed weights, device copies), keyed by the backend.
  std::mutex cache_mutex;
  std::map<std::string, std::shared_ptr<void>> caches;

 private:
  mutable std::mutex host_mutex_;  // guards release / rebuild of host copies
  mutable std::map<std::string, Weight> weights_;
  std::map<std::string, std::function<void(float*)>> restore_;
  uint64_t version_ = 0;
};

// Live native objects and bytes, process-wide (leak checks in soak tests): weight stores and their float32
// bytes, programs and their planned activation arenas. Backend caches (packed weights, device copies) are not
// counted; they live and die with their store.
struct LiveStats {
  int64_t weight_stores = 0;
  int64_t weight_bytes = 0;
  int64_t programs = 0;
  int64_t arena_bytes = 0;
};
LiveStats live_stats();
void live_programs_add(int64_t programs, int64_t arena_bytes);

}  // namespace vit
