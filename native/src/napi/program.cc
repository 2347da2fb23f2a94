// JS handle over a compiled Program. run() is one AsyncWorker: inputs are referenced, not copied (no N-API
// calls in Execute), results become Float32Arrays in OnOK.
#include <napi.h>

#include <memory>

#include "napi/errors.h"
#include "napi/graph-spec.h"
#include "napi/weight-store.h"
#include "vit/program.h"

namespace vit::napi {

namespace {

// Inputs are read in place by the worker: the Float32Arrays stay referenced (alive) until the run completes,
// so a batch is never copied on the JS thread.
struct Inputs {
  std::vector<const float*> ptrs;
  std::vector<Napi::ObjectReference> refs;  // released on the JS thread when the worker is destroyed
};

Inputs inputs_from_js(Napi::Env env, const Napi::Value& v, const Program& prog) {
  if (!v.IsArray()) throw make_error(env, "VIT_E_ARGUMENT", "inputs must be an array of Float32Array");
  Napi::Array a = v.As<Napi::Array>();
  const auto& g = prog.graph();
  if (a.Length() != g.inputs.size())
    throw make_error(env, "VIT_E_ARGUMENT", "program expects " + std::to_string(g.inputs.size()) + " inputs");
  Inputs in;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw make_error(env, "VIT_E_ARGUMENT", "input " + std::to_string(i) + " must be a Float32Array");
    Napi::Float32Array f = x.As<Napi::Float32Array>();
    size_t n = static_cast<size_t>(numel(g.shapes[g.inputs[i]]));
    if (f.ElementLength() != n)
      throw make_error(env, "VIT_E_SHAPE", "input " + std::to_string(i) + " has " + std::to_string(f.ElementLength()) +
                                               " elements, the program expects " + std::to_string(n));
    in.ptrs.push_back(f.Data());
    in.refs.push_back(Napi::Persistent(f.As<Napi::Object>()));
  }
  return in;
}

Napi::Array outputs_to_js(Napi::Env env, const Program& prog, std::vector<HostTensor>& out) {
  Napi::Array a = Napi::Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", prog.graph().outputs[i].first);
    Napi::Array shape = Napi::Array::New(env, out[i].shape.size());
    for (size_t k = 0; k < out[i].shape.size(); ++k) shape.Set(k, Napi::Number::New(env, static_cast<double>(out[i].shape[k])));
    o.Set("shape", shape);
    auto data = Napi::Float32Array::New(env, out[i].data.size());
    std::memcpy(data.Data(), out[i].data.data(), out[i].data.size() * sizeof(float));
    o.Set("data", data);
    a.Set(i, o);
  }
  return a;
}

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, std::shared_ptr<Program> prog, Inputs in, int threads)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), prog_(std::move(prog)),
        in_(std::move(in)), threads_(threads) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      out_ = prog_->run(in_.ptrs, threads_);
    } catch (const vit::error& e) {
      code_ = error_code_name(e.code());
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "VIT_E_OOM";
      SetError("out of host memory");
    } catch (const std::exception& e) {
      code_ = "VIT_E_INTERNAL";
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(outputs_to_js(Env(), *prog_, out_)); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), code_.c_str(), e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Program> prog_;
  Inputs in_;
  int threads_;
  std::vector<HostTensor> out_;
  std::string code_ = "VIT_E_INTERNAL";
};

class ProgramWrap : public Napi::ObjectWrap<ProgramWrap> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Program",
                                   {InstanceMethod("run", &ProgramWrap::Run),
                                    InstanceMethod("runSync", &ProgramWrap::RunSync),
                                    InstanceMethod("arenaBytes", &ProgramWrap::ArenaBytes),
                                    InstanceMethod("profile", &ProgramWrap::Profile),
                                    InstanceMethod("dispose", &ProgramWrap::Dispose)});
    exports.Set("Program", f);
    return exports;
  }

  // new Program(graphSpec, weightStore, deviceSpec)
  explicit ProgramWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject())
      throw make_error(env, "VIT_E_ARGUMENT", "new Program(graph, weights[, device])");
    auto* ws = Napi::ObjectWrap<WeightStoreWrap>::Unwrap(info[1].As<Napi::Object>());
    auto store = ws->store(env);
    Graph g = graph_from_js(env, info[0].As<Napi::Object>());
    DeviceSpec dev = device_from_js(env, info.Length() > 2 ? info[2] : env.Undefined());
    prog_ = guarded(env, [&] { return std::make_shared<Program>(std::move(g), store, dev); });
  }

 private:
  std::shared_ptr<Program> program(Napi::Env env) {
    if (!prog_) throw make_error(env, "VIT_E_DISPOSED", "the program was disposed");
    return prog_;
  }
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto prog = program(env);
    Inputs in = inputs_from_js(env, info[0], *prog);
    int threads = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    auto* w = new RunWorker(env, prog, std::move(in), threads);
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto prog = program(env);
    Inputs in = inputs_from_js(env, info[0], *prog);
    int threads = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
    auto out = guarded(env, [&] { return prog->run(in.ptrs, threads); });
    return outputs_to_js(env, *prog, out);
  }
  Napi::Value ArenaBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(program(info.Env())->plan().arena_floats * 4));
  }
  // [{name, op, ms, runs}]: mean time per run of every node (CUDA with VITNODE_CUDA_PROFILE=1; else []).
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto entries = program(env)->profile();
    Napi::Array a = Napi::Array::New(env, entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", entries[i].name);
      o.Set("op", entries[i].op);
      o.Set("ms", entries[i].ms);
      o.Set("runs", static_cast<double>(entries[i].runs));
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }
  // A run in flight keeps its own reference; memory goes when it finishes.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    prog_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Program> prog_;
};

}  // namespace

Napi::Object InitProgram(Napi::Env env, Napi::Object exports) { return ProgramWrap::Init(env, exports); }

}  // namespace vit::napi
