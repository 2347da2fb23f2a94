#pragma once
#include <napi.h>

#include "vit/graph.h"
#include "vit/program.h"

namespace vit::napi {

Graph graph_from_js(Napi::Env env, const Napi::Object& spec);
DeviceSpec device_from_js(Napi::Env env, const Napi::Value& v);

}  // namespace vit::napi
