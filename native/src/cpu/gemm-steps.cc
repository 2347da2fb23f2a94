// Linear and PatchEmbed steps: row-parallel GEMMs, one single-threaded DnnlLinear per part of the rows (built
// once per part count), so each thread keeps its rows in its own cache through a chain of row-wise steps.
#include <map>
#include <vector>

#include "cpu/dnnl-linear.h"
#include "cpu/ops.h"
#include "cpu/step.h"

namespace vit::cpu {

namespace {

int64_t part_row(int64_t rows, int part, int parts) { return rows * part / parts; }

class GemmStep : public Step {
 public:
  GemmStep(const Env& env, const Node& n, int64_t k, Act act, bool residual)
      : Step(env, n), env_(env), k_(k), n_(env.weights->shape(*n.weight("weight"))[0]), act_(act),
        residual_(residual), bias_(env.weight(n, "bias")), gamma_(env.weight(n, "gamma")) {}

  void prepare(int parts) override {
    auto& gemms = parts_[parts];
    if (!gemms.empty()) return;
    gemms.resize(parts);
    for (int part = 0; part < parts; ++part) {
      const int64_t r0 = part_row(rows_, part, parts), r1 = part_row(rows_, part + 1, parts);
      if (r1 > r0)
        gemms[part] = std::make_unique<DnnlLinear>(*env_.weights, *node_.weight("weight"), bias_, gamma_, r1 - r0, k_,
                                                   n_, act_, residual_, env_.bf16);
    }
  }

 protected:
  const DnnlLinear& gemm(int part, int parts) const { return *parts_.at(parts)[part]; }
  Env env_;
  int64_t k_, n_;

 private:
  Act act_;
  bool residual_;
  const float *bias_, *gamma_;
  std::map<int, std::vector<std::unique_ptr<DnnlLinear>>> parts_;
};

class LinearStep : public GemmStep {
 public:
  LinearStep(const Env& env, const Node& n)
      : GemmStep(env, n, env.shape(n.inputs[0]).back(), static_cast<Act>(n.iattr("act")), n.inputs.size() == 2),
        x_(env.tensor(n.inputs[0])), y_(env.tensor(n.output)),
        res_(n.inputs.size() == 2 ? env.tensor(n.inputs[1]) : nullptr) {}

  void run_rows(int part, int parts, int64_t r0, int64_t, dnnl::stream& s) override {
    gemm(part, parts).run(s, x_ + r0 * k_, y_ + r0 * n_, res_ ? res_ + r0 * n_ : nullptr);
  }

 private:
  const float* x_;
  float* y_;
  const float* res_;
};

// Patchify rows into per-part columns, then the GEMM over them.
class PatchEmbedStep : public GemmStep {
 public:
  PatchEmbedStep(const Env& env, const Node& n)
      : GemmStep(env, n, k_of(env, n), Act::None, false), x_(env.tensor(n.inputs[0])), y_(env.tensor(n.output)),
        xs_(env.shape(n.inputs[0])), patch_(n.iattr("patch")) {}

  void prepare(int parts) override {
    GemmStep::prepare(parts);
    auto& cols = cols_[parts];
    if (!cols.empty()) return;
    cols.resize(parts);
    for (int part = 0; part < parts; ++part)
      cols[part].resize(static_cast<size_t>((part_row(rows_, part + 1, parts) - part_row(rows_, part, parts)) * k_));
  }

  void run_rows(int part, int parts, int64_t r0, int64_t r1, dnnl::stream& s) override {
    float* cols = cols_.at(parts)[part].data();
    patchify_rows(x_, cols, r0, r1, xs_[1], xs_[2], xs_[3], patch_);
    gemm(part, parts).run(s, cols, y_ + r0 * n_, nullptr);
  }

 private:
  static int64_t k_of(const Env& env, const Node& n) {
    const auto& wt = env.weights->shape(*n.weight("weight"));
    return wt[1] * wt[2] * wt[3];
  }
  const float* x_;
  float* y_;
  std::vector<int64_t> xs_;
  int64_t patch_;
  std::map<int, std::vector<std::vector<float>>> cols_;
};

}  // namespace

std::unique_ptr<Step> make_linear(const Env& env, const Node& n) { return std::make_unique<LinearStep>(env, n); }
std::unique_ptr<Step> make_patch_embed(const Env& env, const Node& n) {
  return std::make_unique<PatchEmbedStep>(env, n);
}

}  // namespace vit::cpu
