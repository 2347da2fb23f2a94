// vit::error -> JS Error with a stable `code`.
#pragma once
#include <napi.h>

#include "vit/error.h"

namespace vit::napi {

inline Napi::Error make_error(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

inline Napi::Error make_error(Napi::Env env, const vit::error& err) {
  return make_error(env, error_code_name(err.code()), err.what());
}

// Runs fn, converting native exceptions to JS exceptions (sync API paths).
template <typename F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const vit::error& e) {
    throw make_error(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw make_error(env, "VIT_E_OOM", "out of host memory");
  } catch (const std::exception& e) {
    throw make_error(env, "VIT_E_INTERNAL", e.what());
  }
}

}  // namespace vit::napi
