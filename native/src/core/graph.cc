#include "vit/graph.h"

#include "vit/error.h"

namespace vit {

namespace {
struct OpName {
  OpKind kind;
  const char* name;
};
constexpr OpName kOps[] = {
    {OpKind::Weight, "weight"},           {OpKind::PatchEmbed, "patch_embed"},
    {OpKind::ConcatPrefix, "concat_prefix"}, {OpKind::Add, "add"},
    {OpKind::LayerNorm, "layer_norm"},    {OpKind::Linear, "linear"},
    {OpKind::Attention, "attention"},     {OpKind::Pool, "pool"},
    {OpKind::Tanh, "tanh"},               {OpKind::Gelu, "gelu"},
    {OpKind::Softmax, "softmax"},         {OpKind::SliceTokens, "slice_tokens"},
    {OpKind::TokensToNchw, "tokens_to_nchw"}, {OpKind::PosResample, "pos_resample"},
    {OpKind::Conv2d, "conv2d"},           {OpKind::GroupNorm, "group_norm"},
    {OpKind::Relu, "relu"},               {OpKind::MaxPool2d, "max_pool2d"},
    {OpKind::AvgPool2d, "avg_pool2d"},    {OpKind::Act, "act"},
    {OpKind::Mul, "mul"},                 {OpKind::Glu, "glu"},
    {OpKind::RmsNorm, "rms_norm"},        {OpKind::HeadNorm, "head_norm"},
    {OpKind::SliceLast, "slice_last"},
};
}  // namespace

const char* op_name(OpKind k) {
  for (const auto& o : kOps)
    if (o.kind == k) return o.name;
  return "?";
}

OpKind op_from_name(const std::string& name) {
  for (const auto& o : kOps)
    if (name == o.name) return o.kind;
  fail(ErrorCode::Unsupported, "unknown op '" + name + "'");
}

}  // namespace vit
