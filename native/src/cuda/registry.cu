// Op -> CUDA step factory (and the scratch it needs): the CUDA backend's one registration list. An op missing
// here fails at program creation with VIT_E_UNSUPPORTED, so an op can land on the CPU first.
#include "cuda/ops.cuh"
#include "vit/error.h"

namespace vit {

namespace cuda {

namespace {

StepFn op_weight(OpEnv&, const Node&) { return nullptr; }  // memory only (executor.cu)

struct Entry {
  OpKind op;
  StepFactory make;
  ScratchFn scratch;  // nullptr: none
};

const Entry kSteps[] = {
    {OpKind::Weight, op_weight, nullptr},
    {OpKind::PatchEmbed, op_patch_embed, patch_embed_scratch_bytes},
    {OpKind::ConcatPrefix, op_concat_prefix, nullptr},
    {OpKind::Add, op_add, nullptr},
    {OpKind::LayerNorm, op_layer_norm, nullptr},
    {OpKind::Linear, op_linear, nullptr},
    {OpKind::Attention, op_attention, attention_scratch_bytes},
    {OpKind::Pool, op_pool, nullptr},
    {OpKind::Tanh, op_tanh, nullptr},
    {OpKind::Gelu, op_gelu, nullptr},
    {OpKind::Softmax, op_softmax, nullptr},
    {OpKind::SliceTokens, op_slice_tokens, nullptr},
    {OpKind::TokensToNchw, op_tokens_to_nchw, nullptr},
    {OpKind::PosResample, op_pos_resample, nullptr},
    {OpKind::Conv2d, op_conv2d, conv2d_scratch_bytes},
    {OpKind::GroupNorm, op_group_norm, nullptr},
    {OpKind::Relu, op_relu, nullptr},
    {OpKind::MaxPool2d, op_pool2d, nullptr},
    {OpKind::AvgPool2d, op_pool2d, nullptr},
    {OpKind::Act, op_act, nullptr},
    {OpKind::Mul, op_mul, nullptr},
    {OpKind::Glu, op_glu, nullptr},
    {OpKind::RmsNorm, op_rms_norm, nullptr},
    {OpKind::HeadNorm, op_head_norm, nullptr},
    {OpKind::SliceLast, op_slice_last, nullptr},
    {OpKind::Rope, op_rope, nullptr},
};

const Entry* find(OpKind op) {
  for (const auto& e : kSteps)
    if (e.op == op) return &e;
  return nullptr;
}

const Entry& entry(const Node& n) {
  const Entry* e = find(n.op);
  VIT_CHECK(e, Unsupported, std::string("op '") + op_name(n.op) + "' is not implemented on cuda yet (node '" + n.name + "')");
  return *e;
}

}  // namespace

void check_supported(const Graph& g) {
  for (const auto& n : g.nodes) (void)entry(n);
}

StepFn make_step(OpEnv& env, const Node& n) { return entry(n).make(env, n); }

size_t scratch_bytes(const OpEnv& env, const Node& n) {
  const Entry* e = find(n.op);
  return e && e->scratch ? e->scratch(env, n) : 0;
}

}  // namespace cuda

bool cuda_supports(OpKind op) { return cuda::find(op) != nullptr; }

}  // namespace vit
