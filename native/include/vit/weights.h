// Model weights in native memory, keyed by timm state_dict names. Host copies are float32; backends keep
// their own prepared forms (packed CPU layouts, device copies) in `caches`, built once per store.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vit {

struct AlignedFree {
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
  const Weight& get(const std::string& name) const;  // throws VIT_E_CHECKPOINT naming the key
  bool has(const std::string& name) const { return weights_.count(name) != 0; }
  std::vector<std::string> names() const;
  size_t bytes() const;
  // Bumped whenever a weight changes, so backend caches know to rebuild.
  uint64_t version() const { return version_; }

  // Backend-owned derived data (packed weights, device copies), keyed by the backend.
  std::mutex cache_mutex;
  std::map<std::string, std::shared_ptr<void>> caches;

 private:
  std::map<std::string, Weight> weights_;
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
