// The only translation unit family that includes napi.h: module registration and small free functions.
#include <napi.h>
#include <omp.h>

#include "napi/weight-store.h"
#include "vit/program.h"

namespace vit::napi {
Napi::Object InitProgram(Napi::Env env, Napi::Object exports);
void InitOpTable(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value CudaStatusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CudaStatus s = cuda_status();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", s.compiled);
  o.Set("available", s.available);
  o.Set("reason", s.reason);
  o.Set("deviceCount", s.device_count);
  Napi::Array d = Napi::Array::New(env, s.devices.size());
  for (size_t i = 0; i < s.devices.size(); ++i) d.Set(i, s.devices[i]);
  o.Set("devices", d);
  return o;
}

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cores", omp_get_num_procs());
  o.Set("gemm", "oneDNN");
  return o;
}

Napi::Value NativeStats(const Napi::CallbackInfo& info) {
  LiveStats s = live_stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("weightStores", static_cast<double>(s.weight_stores));
  o.Set("weightBytes", static_cast<double>(s.weight_bytes));
  o.Set("programs", static_cast<double>(s.programs));
  o.Set("arenaBytes", static_cast<double>(s.arena_bytes));
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  WeightStoreWrap::Init(env, exports);
  InitProgram(env, exports);
  InitOpTable(env, exports);
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatusJs));
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo));
  exports.Set("nativeStats", Napi::Function::New(env, NativeStats));
  return exports;
}

}  // namespace vit::napi

static Napi::Object InitVitnode(Napi::Env env, Napi::Object exports) { return vit::napi::Init(env, exports); }

NODE_API_MODULE(vitnode, InitVitnode)
