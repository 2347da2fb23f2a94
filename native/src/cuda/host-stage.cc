// Thread pool and dtype conversions for the host side of CUDA transfers (see host-stage.h).
#include "cuda/host-stage.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace vit::cuda {

namespace {

class HostPool {
 public:
  explicit HostPool(int threads) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { loop(); });
  }
  // Never destroyed (a static pointer): worker threads must not be joined during static destruction, when
  // the process may already be tearing down.
  int threads() const { return threads_; }

  void run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 0) return;
    if (tasks == 1 || threads_ == 1) {
      for (int i = 0; i < tasks; ++i) fn(i);
      return;
    }
    std::lock_guard<std::mutex> serial(call_mu_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0);
      done_ = 0;
      ++generation_;
    }
    cv_.notify_all();
    const int mine = drain();
    std::unique_lock<std::mutex> lock(mu_);
    done_ += mine;
    // Every worker that joined this job has left it before the job's fn goes out of scope.
    done_cv_.wait(lock, [&] { return done_ == tasks_ && active_ == 0; });
    fn_ = nullptr;
  }

 private:
  int drain() {
    int n = 0;
    for (int i = next_.fetch_add(1); i < tasks_; i = next_.fetch_add(1)) {
      (*fn_)(i);
      ++n;
    }
    return n;
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (!fn_ || next_.load() >= tasks_) continue;  // woke after that job was taken
        ++active_;
      }
      const int n = drain();
      std::lock_guard<std::mutex> lock(mu_);
      done_ += n;
      --active_;
      if (done_ == tasks_ && active_ == 0) done_cv_.notify_one();
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int tasks_ = 0, done_ = 0, active_ = 0;
  std::atomic<int> next_{0};
  uint64_t generation_ = 0;
};

HostPool& pool() {
  static HostPool* p = [] {
    int n = 0;
    if (const char* v = std::getenv("VITNODE_HOST_THREADS")) n = std::atoi(v);
    if (n <= 0) n = std::min<int>(16, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return new HostPool(std::min(n, 64));
  }();
  return *p;
}

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t to_bf16(float f) {
  uint32_t u = bits(f);
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>(nan ? ((u >> 16) | 0x40u) : r);
}

// F. Giesen's float_to_half_fast3_rtne: exact round to nearest even, subnormals included.
inline uint16_t to_f16(float f) {
  uint32_t u = bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  uint32_t o;
  if (u >= (127u + 16u) << 23) {  // >= 65536: inf (or NaN)
    o = u > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (u < 113u << 23) {  // half subnormal or zero
    const float magic = from_bits(((127u - 15u) + (23u - 10u) + 1u) << 23);
    o = bits(from_bits(u) + magic) - bits(magic);
  } else {
    const uint32_t odd = (u >> 13) & 1u;
    u += ((15u - 127u) << 23) + 0xfffu + odd;  // unsigned wrap: adds (15 - 127) << 23
    o = u >> 13;
  }
  return static_cast<uint16_t>(o | sign);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return from_bits(sign | 0x7f800000u | (m << 13));
  if (e == 0) return from_bits(sign) + (sign ? -1.f : 1.f) * static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24
  return from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

constexpr size_t kGrain = size_t(1) << 16;  // elements per task, at least

}  // namespace

int host_threads() { return pool().threads(); }

void host_parallel(int tasks, const std::function<void(int)>& fn) { pool().run(tasks, fn); }

void host_from_f32(const float* src, void* dst, size_t n, DType dtype) {
  if (dtype == DType::F32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (dtype == DType::BF16) {
    auto* d = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = to_bf16(src[i]);
  } else {
    auto* d = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = to_f16(src[i]);
  }
}

void host_to_f32(const void* src, float* dst, size_t n, DType dtype) {
  if (dtype == DType::F32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (dtype == DType::BF16) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (size_t i = 0; i < n; ++i) dst[i] = from_bits(static_cast<uint32_t>(s[i]) << 16);
  } else {
    const auto* s = static_cast<const uint16_t*>(src);
    for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  }
}

namespace {
template <typename F>
void split(size_t n, F&& f) {
  const size_t tasks = std::min<size_t>(static_cast<size_t>(host_threads()), (n + kGrain - 1) / kGrain);
  if (tasks <= 1) {
    f(size_t(0), n);
    return;
  }
  const size_t per = (n + tasks - 1) / tasks;
  host_parallel(static_cast<int>(tasks), [&](int t) {
    const size_t a = static_cast<size_t>(t) * per, b = std::min(n, a + per);
    if (a < b) f(a, b);
  });
}
}  // namespace

void host_from_f32_parallel(const float* src, void* dst, size_t n, DType dtype) {
  const size_t es = dtype == DType::F32 ? 4 : 2;
  split(n, [&](size_t a, size_t b) { host_from_f32(src + a, static_cast<char*>(dst) + a * es, b - a, dtype); });
}

void host_to_f32_parallel(const void* src, float* dst, size_t n, DType dtype) {
  const size_t es = dtype == DType::F32 ? 4 : 2;
  split(n, [&](size_t a, size_t b) { host_to_f32(static_cast<const char*>(src) + a * es, dst + a, b - a, dtype); });
}

}  // namespace vit::cuda
