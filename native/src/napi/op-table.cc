// binding.opTable(): the op table (vit/ops.def) as plain data, for scripts/gen-ops.ts and tests. Unbounded
// real limits are null (JSON has no Infinity); `backends` says which of this binary's backends run each op.
#include <napi.h>

#include <cmath>
#include <utility>

#include "vit/op-table.h"
#include "vit/program.h"

namespace vit::napi {

namespace {

constexpr std::pair<OpTrait, const char*> kTraitNames[] = {
    {kRowWise, "row_wise"}, {kElementwise, "elementwise"}, {kTestOnly, "test_only"}};

Napi::Value limit(Napi::Env env, double v) { return std::isinf(v) ? env.Null() : Napi::Number::New(env, v); }

Napi::Object attr_js(Napi::Env env, const AttrDef& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", a.name);
  o.Set("type", a.integer ? "int" : "real");
  o.Set("min", limit(env, a.min));
  o.Set("max", limit(env, a.max));
  o.Set("default", a.use == AttrUse::Default ? Napi::Number::New(env, a.dflt) : env.Null());
  o.Set("required", a.use == AttrUse::Required);
  o.Set("doc", a.doc);
  return o;
}

Napi::Object op_js(Napi::Env env, const OpDef& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", d.name);
  o.Set("doc", d.doc);
  o.Set("minInputs", d.min_inputs);
  o.Set("maxInputs", d.max_inputs < 0 ? env.Null() : Napi::Number::New(env, d.max_inputs));
  Napi::Array traits = Napi::Array::New(env);
  for (const auto& t : kTraitNames)
    if (d.has(t.first)) traits.Set(traits.Length(), t.second);
  o.Set("traits", traits);
  Napi::Array roles = Napi::Array::New(env);
  for (int i = 0; i < kMaxRoles && d.roles[i].name; ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("name", d.roles[i].name);
    r.Set("required", d.roles[i].required);
    roles.Set(i, r);
  }
  o.Set("roles", roles);
  Napi::Array attrs = Napi::Array::New(env);
  for (int i = 0; i < kMaxAttrs && d.attrs[i].name; ++i) attrs.Set(i, attr_js(env, d.attrs[i]));
  o.Set("attrs", attrs);
  Napi::Object backends = Napi::Object::New(env);
  backends.Set("cpu", cpu_supports(d.kind));
  backends.Set("cuda", cuda_supports(d.kind));
  o.Set("backends", backends);
  return o;
}

Napi::Value OpTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, kOpCount);
  for (int i = 0; i < kOpCount; ++i) a.Set(i, op_js(env, op_table()[i]));
  return a;
}

}  // namespace

void InitOpTable(Napi::Env env, Napi::Object exports) { exports.Set("opTable", Napi::Function::New(env, OpTable)); }

}  // namespace vit::napi
