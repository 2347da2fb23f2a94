// JS handle over a native WeightStore. Tensors arrive as raw little-endian bytes + dtype and are converted to
// float32 straight into native memory; JS only ever sees names, shapes and (on request) copies.
#include "napi/weight-store.h"

#include "napi/convert.h"
#include "napi/errors.h"

namespace vit::napi {

Napi::FunctionReference WeightStoreWrap::ctor;

Napi::Object WeightStoreWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "WeightStore",
                                 {InstanceMethod("set", &WeightStoreWrap::Set),
                                  InstanceMethod("get", &WeightStoreWrap::Get),
                                  InstanceMethod("shape", &WeightStoreWrap::Shape),
                                  InstanceMethod("has", &WeightStoreWrap::Has),
                                  InstanceMethod("names", &WeightStoreWrap::Names),
                                  InstanceMethod("bytes", &WeightStoreWrap::Bytes),
                                  InstanceMethod("dispose", &WeightStoreWrap::Dispose)});
  ctor = Napi::Persistent(f);
  ctor.SuppressDestruct();
  exports.Set("WeightStore", f);
  return exports;
}

WeightStoreWrap::WeightStoreWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<WeightStoreWrap>(info), store_(std::make_shared<WeightStore>()) {}

std::shared_ptr<WeightStore> WeightStoreWrap::store(Napi::Env env) const {
  if (!store_) throw make_error(env, "VIT_E_DISPOSED", "the model's weights were disposed");
  return store_;
}

std::vector<int64_t> shape_from_js(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw make_error(env, "VIT_E_ARGUMENT", "shape must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> s;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    if (!d.IsNumber() || d.As<Napi::Number>().DoubleValue() < 0)
      throw make_error(env, "VIT_E_ARGUMENT", "shape must be an array of non-negative integers");
    s.push_back(d.As<Napi::Number>().Int64Value());
  }
  return s;
}

// set(name, shape, data: TypedArray, dtype = 'F32')
Napi::Value WeightStoreWrap::Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = store(env);
  if (info.Length() < 3 || !info[0].IsString() || !info[2].IsTypedArray())
    throw make_error(env, "VIT_E_ARGUMENT", "set(name, shape, data[, dtype])");
  std::string name = info[0].As<Napi::String>();
  auto shape = shape_from_js(env, info[1]);
  std::string dtype = info.Length() > 3 && info[3].IsString() ? std::string(info[3].As<Napi::String>()) : "F32";
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  size_t esize = dtype_size(dtype);
  if (esize == 0) throw make_error(env, "VIT_E_CHECKPOINT", "tensor '" + name + "' has unsupported dtype " + dtype);
  if (ta.ByteLength() != n * esize)
    throw make_error(env, "VIT_E_CHECKPOINT", "tensor '" + name + "': " + std::to_string(ta.ByteLength()) +
                                                  " bytes for " + std::to_string(n) + " " + dtype + " elements");
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  guarded(env, [&] {
    auto buf = aligned_alloc_f32(n);
    convert_to_f32(dtype, src, n, buf.get());
    st->set_owned(name, shape, std::move(buf));
    return 0;
  });
  return env.Undefined();
}

Napi::Value WeightStoreWrap::Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = store(env);
  std::string name = info[0].As<Napi::String>();
  return guarded(env, [&] {
    const Weight& w = st->get(name);
    auto out = Napi::Float32Array::New(env, w.size());
    std::memcpy(out.Data(), w.data.get(), w.size() * sizeof(float));
    return out;
  });
}

Napi::Value WeightStoreWrap::Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = store(env);
  std::string name = info[0].As<Napi::String>();
  return guarded(env, [&] {
    const auto& shape = st->shape(name);
    auto a = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) a.Set(i, Napi::Number::New(env, static_cast<double>(shape[i])));
    return a;
  });
}

Napi::Value WeightStoreWrap::Has(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), store(info.Env())->has(info[0].As<Napi::String>()));
}

Napi::Value WeightStoreWrap::Names(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = store(env)->names();
  auto a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, Napi::String::New(env, names[i]));
  return a;
}

Napi::Value WeightStoreWrap::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(store(info.Env())->bytes()));
}

// Drops this handle's reference; programs still running keep the store alive until they finish.
Napi::Value WeightStoreWrap::Dispose(const Napi::CallbackInfo& info) {
  store_.reset();
  return info.Env().Undefined();
}

}  // namespace vit::napi
