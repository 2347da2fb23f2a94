// The graph spec TS builds once per model and input shape. Ops and attributes are the contract shared by
// every backend (cpu/, cuda/); each op's semantics are in the comment beside it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vit {

enum class OpKind {
  Weight,          // weights[0] exposed as a tensor (no copy on CPU)
  PatchEmbed,      // x[B,C,H,W], weights {weight[D,C,P,P], bias[D]?} -> [B, gh*gw, D]; attrs patch, pad
  ConcatPrefix,    // inputs x[B,N,D], t1[1,k1,D], t2[1,k2,D]... -> [B, k1+k2+..+N, D] (prefix tokens first)
  Add,             // a + b, b broadcast over the batch when b.shape[0] == 1; attrs alpha, beta: alpha*a + beta*b
  LayerNorm,       // over the last dim; weights {weight, bias}; attr eps
  Linear,          // x[..,K] W[N,K]^T + bias; attrs act (vit/act.h: 0 none, 1 gelu-erf, 2 tanh, 3 gelu-tanh
                   // approximation, 4 quick_gelu, 5 silu, 6 relu, 7 sigmoid);
                   // weights {weight, bias?, gamma?};
                   // inputs[1] (optional) residual added last: y = residual + gamma * act(xW^T + b)
  Attention,       // qkv[B,T,3D] -> [B,Q,D]; attrs heads, scale, scale_q (1: q*scale before q.k, else scores*scale),
                   // queries Q (default T): only the first Q query rows, each over all T keys (the pruned last block).
                   // Split forms (no queries attr): [q[Bq,Q,D], kv[B,T,2D] (k|v)] or [q, k[B,T,D], v[B,T,D]] ->
                   // [B,Q,D]; Bq 1 (one q shared by the batch) or B
  Pool,            // x[B,T,D] -> [B,D]; attrs mode (0 token, 1 avg, 2 max, 3 avgmax), start (first pooled token), index
  Tanh,            // elementwise
  Gelu,            // elementwise, exact erf
  Softmax,         // over the last dim
  SliceTokens,     // x[B,T,D] -> [B,count,D]; attrs start, count
  TokensToNchw,    // x[B,N,D] -> [B,D,h,w]; attrs h, w
  PosResample,     // pos[1,p+oh*ow,D] -> [1,p+h*w,D]; attrs prefix, old_h, old_w, h, w, mode (0 bilinear, 1 bicubic+AA, 2 bicubic)
  // Hybrid CNN backbones (NCHW). See core/conv-weights.h for the load-time weight transforms.
  Conv2d,          // x[B,C,H,W] -> [B,O,OH,OW]; weights {weight[O,C,kh,kw], bias?, bn_weight?, bn_bias?, bn_mean?, bn_var?};
                   // attrs stride, dilation, pad_t, pad_l, pad_b, pad_r (zeros), ws (0 none, 1 (w-m)/(std+eps),
                   // 2 (w-m)/sqrt(var+eps)), ws_eps, bn_eps, act (0 none, 1 relu); inputs[1] (optional) residual
                   // [B,O,OH,OW]: y = act(conv(x, W') + b' + residual), W'/b' = standardised / BN-folded weights
  GroupNorm,       // x[B,C,...]; weights {weight, bias}; attrs groups, eps, act (0 none, 1 relu); inputs[1]
                   // (optional) residual: y = act(gn(x) + residual)
  Relu,            // elementwise
  MaxPool2d,       // x[B,C,H,W]; attrs kernel, stride, pad_t, pad_l, pad_b, pad_r (padding never wins: -inf)
  AvgPool2d,       // x[B,C,H,W]; attrs kernel, stride, pad_t, pad_l, pad_b, pad_r, ceil_mode; divides by the
                   // number of in-image elements of each window (count_include_pad=False)
  // timm's ViT families (CLIP, SigLIP, AIMv2, DINOv2 SwiGLU, qk_norm, ParallelScalingBlock, prr pooling).
  Act,             // elementwise activation; attr act (Linear's codes)
  Mul,             // a * b, same shapes
  Glu,             // x[..,2H] -> [..,H]: act(gate) * value; attrs act, gate_first (1: gate = x[..,:H] (SwiGLUPacked),
                   // 0: gate = x[..,H:] (GluMlp))
  RmsNorm,         // over the last dim: x * rsqrt(mean(x^2) + eps) * weight; weights {weight}; attr eps
  HeadNorm,        // qkv[..,3D] -> same: q and k normalised per head over D/heads (timm qk_norm), v copied; weights
                   // {q_weight, k_weight [D/heads], q_bias?, k_bias? (LayerNorm only)}; attrs heads, eps, kind
                   // (0 LayerNorm, 1 RmsNorm)
  SliceLast,       // x[..,C] -> [..,count]: columns [start, start + count); attrs start, count
};

const char* op_name(OpKind k);
OpKind op_from_name(const std::string& name);

struct Node {
  OpKind op;
  std::string name;                  // timm module path, for errors and dumps
  std::vector<int> inputs;           // tensor ids
  int output = -1;                   // tensor id
  std::map<std::string, std::string> weights;  // role -> state_dict key
  std::map<std::string, double> attrs;

  double attr(const std::string& k, double dflt) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? dflt : it->second;
  }
  int iattr(const std::string& k, int dflt) const { return static_cast<int>(attr(k, dflt)); }
  const std::string* weight(const std::string& role) const {
    auto it = weights.find(role);
    return it == weights.end() ? nullptr : &it->second;
  }
};

struct Graph {
  std::vector<std::vector<int64_t>> shapes;  // per tensor id
  std::vector<int> inputs;                   // tensor ids fed by the caller, in order
  std::vector<std::pair<std::string, int>> outputs;  // name -> tensor id
  std::vector<Node> nodes;                   // topological order
};

inline int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

}  // namespace vit
