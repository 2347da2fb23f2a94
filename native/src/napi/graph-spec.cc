// JS graph spec -> vit::Graph. Only structure is checked here; validate_graph checks shapes and weights.
#include "napi/graph-spec.h"

#include "napi/errors.h"
#include "napi/weight-store.h"

namespace vit::napi {

namespace {

std::vector<int> ids(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw make_error(env, "VIT_E_ARGUMENT", std::string(what) + " must be an array of tensor ids");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  return out;
}

}  // namespace

Graph graph_from_js(Napi::Env env, const Napi::Object& spec) {
  Graph g;
  Napi::Array shapes = spec.Get("shapes").As<Napi::Array>();
  for (uint32_t i = 0; i < shapes.Length(); ++i) g.shapes.push_back(shape_from_js(env, shapes.Get(i)));
  g.inputs = ids(env, spec.Get("inputs"), "inputs");
  Napi::Array outs = spec.Get("outputs").As<Napi::Array>();
  for (uint32_t i = 0; i < outs.Length(); ++i) {
    Napi::Array pair = outs.Get(i).As<Napi::Array>();
    g.outputs.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), pair.Get(1u).As<Napi::Number>().Int32Value());
  }
  Napi::Array nodes = spec.Get("nodes").As<Napi::Array>();
  for (uint32_t i = 0; i < nodes.Length(); ++i) {
    Napi::Object o = nodes.Get(i).As<Napi::Object>();
    Node n;
    n.op = guarded(env, [&] { return op_from_name(o.Get("op").As<Napi::String>().Utf8Value()); });
    n.name = o.Has("name") ? o.Get("name").As<Napi::String>().Utf8Value() : std::string();
    n.inputs = ids(env, o.Get("inputs"), "node inputs");
    n.output = o.Get("output").As<Napi::Number>().Int32Value();
    if (o.Has("weights") && o.Get("weights").IsObject()) {
      Napi::Object w = o.Get("weights").As<Napi::Object>();
      Napi::Array keys = w.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        std::string role = keys.Get(k).As<Napi::String>();
        n.weights[role] = w.Get(role).As<Napi::String>().Utf8Value();
      }
    }
    if (o.Has("attrs") && o.Get("attrs").IsObject()) {
      Napi::Object a = o.Get("attrs").As<Napi::Object>();
      Napi::Array keys = a.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        std::string key = keys.Get(k).As<Napi::String>();
        n.attrs[key] = a.Get(key).As<Napi::Number>().DoubleValue();
      }
    }
    g.nodes.push_back(std::move(n));
  }
  return g;
}

DeviceSpec device_from_js(Napi::Env env, const Napi::Value& v) {
  DeviceSpec d;
  if (!v.IsObject()) return d;
  Napi::Object o = v.As<Napi::Object>();
  if (o.Has("device")) d.cuda = o.Get("device").As<Napi::String>().Utf8Value() == "cuda";
  if (o.Has("index")) d.index = o.Get("index").As<Napi::Number>().Int32Value();
  if (o.Has("tf32")) d.tf32 = o.Get("tf32").ToBoolean();
  if (o.Has("dtype")) {
    std::string t = o.Get("dtype").As<Napi::String>();
    if (t == "float32") d.dtype = DType::F32;
    else if (t == "float16") d.dtype = DType::F16;
    else if (t == "bfloat16") d.dtype = DType::BF16;
    else throw make_error(env, "VIT_E_ARGUMENT", "unknown dtype '" + t + "'");
  }
  return d;
}

}  // namespace vit::napi
