// Op -> CPU step factory: the CPU backend's one registration list. An op missing here fails at program creation
// with VIT_E_UNSUPPORTED (so an op can land on one backend first).
#include "cpu/step.h"

namespace vit::cpu {

namespace {

std::unique_ptr<Step> make_weight(const Env&, const Node&) { return nullptr; }  // memory only (executor.cc)

struct Entry {
  OpKind op;
  StepFactory make;
};

constexpr Entry kSteps[] = {
    {OpKind::Weight, make_weight},
    {OpKind::PatchEmbed, make_patch_embed},
    {OpKind::ConcatPrefix, make_concat_prefix},
    {OpKind::Add, make_add},
    {OpKind::LayerNorm, make_layer_norm},
    {OpKind::Linear, make_linear},
    {OpKind::Attention, make_attention},
    {OpKind::Pool, make_pool},
    {OpKind::Tanh, make_tanh},
    {OpKind::Gelu, make_gelu},
    {OpKind::Softmax, make_softmax},
    {OpKind::SliceTokens, make_slice_tokens},
    {OpKind::TokensToNchw, make_tokens_to_nchw},
    {OpKind::PosResample, make_pos_resample},
    {OpKind::Conv2d, make_conv2d},
    {OpKind::GroupNorm, make_group_norm},
    {OpKind::Relu, make_relu},
    {OpKind::MaxPool2d, make_pool2d},
    {OpKind::AvgPool2d, make_pool2d},
    {OpKind::Act, make_act},
    {OpKind::Mul, make_mul},
    {OpKind::Glu, make_glu},
    {OpKind::RmsNorm, make_rms_norm},
    {OpKind::HeadNorm, make_head_norm},
    {OpKind::SliceLast, make_slice_last},
    {OpKind::Rope, make_rope},
};

const Entry* find(OpKind op) {
  for (const auto& e : kSteps)
    if (e.op == op) return &e;
  return nullptr;
}

}  // namespace

bool supports(OpKind op) { return find(op) != nullptr; }

std::unique_ptr<Step> make_step(const Env& env, const Node& n) {
  const Entry* e = find(n.op);
  VIT_CHECK(e, Unsupported, std::string("op '") + op_name(n.op) + "' is not implemented on cpu yet (node '" + n.name + "')");
  return e->make(env, n);
}

}  // namespace vit::cpu

namespace vit {
bool cpu_supports(OpKind op) { return cpu::supports(op); }
}  // namespace vit
