// Errors thrown by native code; the N-API layer turns them into rejected Promises with `code`.
#pragma once
#include <stdexcept>
#include <string>

namespace vit {

// Stable codes seen by JS as err.code.
enum class ErrorCode { Shape, Argument, Checkpoint, Cuda, Unsupported, Disposed, Internal };

const char* error_code_name(ErrorCode c);

class error : public std::runtime_error {
 public:
  error(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] void fail(ErrorCode code, const std::string& msg);

}  // namespace vit

#define VIT_CHECK(cond, code, msg) \
  do {                             \
    if (!(cond)) ::vit::fail(::vit::ErrorCode::code, (msg)); \
  } while (0)
