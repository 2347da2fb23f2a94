// The Step base and the function-backed steps most ops use.
#include "cpu/step.h"

namespace vit::cpu {

const float* Env::weight(const Node& n, const char* role) const {
  const std::string* k = n.weight(role);
  return k ? weights->get(*k).data.get() : nullptr;
}

Step::Step(const Env& env, const Node& n) : node_(n) {
  const auto& y = env.shape(n.output);
  rows_ = y.empty() ? 1 : numel(y) / y.back();
}

void Step::run_rows(int, int, int64_t, int64_t, dnnl::stream&) {
  fail(ErrorCode::Internal, std::string(op_name(node_.op)) + " '" + node_.name + "' has no row-parallel CPU kernel");
}

void Step::run_ws(int, void*) {
  fail(ErrorCode::Internal, std::string(op_name(node_.op)) + " '" + node_.name + "' is not a worksharing CPU step");
}

void Step::run(dnnl::stream&, int, void*) {
  fail(ErrorCode::Internal, std::string(op_name(node_.op)) + " '" + node_.name + "' runs in parallel regions only");
}

namespace {

class RowStep : public Step {
 public:
  RowStep(const Env& env, const Node& n, RowFn fn, int64_t rows) : Step(env, n), fn_(std::move(fn)) {
    if (rows >= 0) rows_ = rows;
  }
  void run_rows(int, int, int64_t r0, int64_t r1, dnnl::stream&) override { fn_(r0, r1); }

 private:
  RowFn fn_;
};

class SerialStep : public Step {
 public:
  SerialStep(const Env& env, const Node& n, SerialFn fn, size_t scratch)
      : Step(env, n), fn_(std::move(fn)), scratch_(scratch) {}
  void run(dnnl::stream& s, int threads, void* scratch) override { fn_(s, threads, scratch); }
  size_t scratch_bytes(int) const override { return scratch_; }

 private:
  SerialFn fn_;
  size_t scratch_;
};

}  // namespace

std::unique_ptr<Step> row_step(const Env& env, const Node& n, RowFn fn, int64_t rows) {
  return std::make_unique<RowStep>(env, n, std::move(fn), rows);
}

std::unique_ptr<Step> serial_step(const Env& env, const Node& n, SerialFn fn, size_t scratch_bytes) {
  return std::make_unique<SerialStep>(env, n, std::move(fn), scratch_bytes);
}

}  // namespace vit::cpu
