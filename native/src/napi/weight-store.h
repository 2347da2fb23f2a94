#pragma once
#include <napi.h>

#include <memory>

#include "vit/weights.h"

namespace vit::napi {

std::vector<int64_t> shape_from_js(Napi::Env env, const Napi::Value& v);

class WeightStoreWrap : public Napi::ObjectWrap<WeightStoreWrap> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  static Napi::FunctionReference ctor;
  explicit WeightStoreWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<WeightStore> store(Napi::Env env) const;

 private:
  Napi::Value Set(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Has(const Napi::CallbackInfo& info);
  Napi::Value Names(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  std::shared_ptr<WeightStore> store_;
};

}  // namespace vit::napi
