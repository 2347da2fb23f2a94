#include "vit/error.h"

namespace vit {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::Shape: return "VIT_E_SHAPE";
    case ErrorCode::Argument: return "VIT_E_ARGUMENT";
    case ErrorCode::Checkpoint: return "VIT_E_CHECKPOINT";
    case ErrorCode::Cuda: return "VIT_E_CUDA";
    case ErrorCode::Unsupported: return "VIT_E_UNSUPPORTED";
    case ErrorCode::Disposed: return "VIT_E_DISPOSED";
    case ErrorCode::Internal: return "VIT_E_INTERNAL";
  }
  return "VIT_E_INTERNAL";
}

void fail(ErrorCode code, const std::string& msg) { throw error(code, msg); }

}  // namespace vit
