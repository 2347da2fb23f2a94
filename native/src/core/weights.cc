#include "vit/weights.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>

#include "vit/error.h"

namespace vit {

namespace {
std::atomic<int64_t> g_stores{0}, g_weight_bytes{0}, g_programs{0}, g_arena_bytes{0};
}  // namespace

LiveStats live_stats() {
  return {g_stores.load(), g_weight_bytes.load(), g_programs.load(), g_arena_bytes.load()};
}
void live_programs_add(int64_t programs, int64_t arena_bytes) {
  g_programs += programs;
  g_arena_bytes += arena_bytes;
}

WeightStore::WeightStore() { ++g_stores; }
WeightStore::~WeightStore() {
  --g_stores;
  g_weight_bytes -= static_cast<int64_t>(bytes());
}

void AlignedFree::operator()(float* p) const {
  if (mapped_bytes) munmap(p, mapped_bytes);
  else std::free(p);
}

AlignedBuffer aligned_alloc_f32(size_t n) {
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  if (bytes == 0) bytes = 64;
  if (bytes >= (size_t{1} << 20)) {
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) fail(ErrorCode::Internal, "out of host memory mapping " + std::to_string(bytes) + " bytes");
    return AlignedBuffer(static_cast<float*>(m), AlignedFree{bytes});
  }
  void* p = std::aligned_alloc(64, bytes);
  if (!p) fail(ErrorCode::Internal, "out of host memory allocating " + std::to_string(bytes) + " bytes");
  return AlignedBuffer(static_cast<float*>(p));
}

size_t Weight::size() const {
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

void WeightStore::set(const std::string& name, std::vector<int64_t> shape, const float* data) {
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  auto buf = aligned_alloc_f32(n);
  std::memcpy(buf.get(), data, n * sizeof(float));
  set_owned(name, std::move(shape), std::move(buf));
}

void WeightStore::set_owned(const std::string& name, std::vector<int64_t> shape, AlignedBuffer data) {
  Weight w;
  w.shape = std::move(shape);
  w.data = std::move(data);
  g_weight_bytes += static_cast<int64_t>(w.size() * sizeof(float));
  auto old = weights_.find(name);
  const bool replaced = old != weights_.end();
  if (replaced) g_weight_bytes -= static_cast<int64_t>(old->second.size() * sizeof(float));
  {
    std::lock_guard<std::mutex> hl(host_mutex_);
    weights_[name] = std::move(w);
    restore_.erase(name);
  }
  // A new key makes no cached form stale (caches are per key and built on demand): only a replaced weight bumps the
  // version, so adding the derived weights of a new input size (RoPE tables) keeps packed / device copies.
  if (!replaced) return;
  ++version_;
  std::lock_guard<std::mutex> lock(cache_mutex);
  caches.clear();  // derived forms are stale now
}

const Weight& WeightStore::get(const std::string& name) const {
  std::lock_guard<std::mutex> hl(host_mutex_);
  auto it = weights_.find(name);
  if (it == weights_.end()) fail(ErrorCode::Checkpoint, "weight '" + name + "' is not loaded");
  if (!it->second.data) {
    auto r = restore_.find(name);
    if (r == restore_.end()) fail(ErrorCode::Internal, "weight '" + name + "' has no host copy");
    auto buf = aligned_alloc_f32(it->second.size());
    r->second(buf.get());
    it->second.data = std::move(buf);
  }
  return it->second;
}

const std::vector<int64_t>& WeightStore::shape(const std::string& name) const {
  std::lock_guard<std::mutex> hl(host_mutex_);
  auto it = weights_.find(name);
  if (it == weights_.end()) fail(ErrorCode::Checkpoint, "weight '" + name + "' is not loaded");
  return it->second.shape;
}

const float* WeightStore::host_or_null(const std::string& name) const {
  std::lock_guard<std::mutex> hl(host_mutex_);
  auto it = weights_.find(name);
  if (it == weights_.end()) fail(ErrorCode::Checkpoint, "weight '" + name + "' is not loaded");
  return it->second.data.get();
}

void WeightStore::release_host(const std::string& name, std::function<void(float*)> restore) {
  std::lock_guard<std::mutex> hl(host_mutex_);
  auto it = weights_.find(name);
  if (it == weights_.end()) fail(ErrorCode::Checkpoint, "weight '" + name + "' is not loaded");
  restore_[name] = std::move(restore);
  it->second.data.reset();
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& kv : weights_) out.push_back(kv.first);
  return out;
}

size_t WeightStore::bytes() const {
  size_t b = 0;
  for (const auto& kv : weights_) b += kv.second.size() * sizeof(float);
  return b;
}

}  // namespace vit
