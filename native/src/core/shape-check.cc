// Shape inference for every op: the graph TS sends is checked here before any buffer is planned, so a bad
// spec is an error, never an out-of-bounds access.
#include <sstream>

#include "vit/error.h"
#include "vit/op-table.h"
#include "vit/program.h"

namespace vit {

namespace {

using Shape = std::vector<int64_t>;

std::string str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << "]";
  return o.str();
}

[[noreturn]] void bad(const Node& n, const std::string& why) {
  fail(ErrorCode::Shape, std::string(op_name(n.op)) + " '" + n.name + "': " + why);
}

// The shape of an optional role, or empty when absent (required roles are checked by validate_node).
const Shape& wshape(const Node& n, const WeightStore& w, const char* role) {
  static const Shape empty;
  const std::string* key = n.weight(role);
  return key ? w.shape(*key) : empty;
}

// Attention's split forms: q[Bq,Q,D] with kv[B,T,2D], or with k[B,T,D] and v[B,T,D]; Bq 1 or B.
Shape infer_attention_split(const Node& n, const std::vector<const Shape*>& in) {
  const Shape &q = *in[0], &k = *in[1];
  const int64_t h = n.iattr("heads");
  if (n.has_attr("queries")) bad(n, "attr queries is for packed qkv only (the split forms take q's rows)");
  const char* form = in.size() == 2 ? "q[Bq,Q,D], kv[B,T,2D]" : "q[Bq,Q,D], k[B,T,D], v[B,T,D]";
  if (q.size() != 3 || k.size() != 3) bad(n, std::string("expects ") + form + ", got q " + str(q) + ", " + str(k));
  const int64_t d = q[2];
  if (in.size() == 2 && k[2] != 2 * d) bad(n, "kv " + str(k) + " is not [B,T,2D] for q " + str(q));
  if (in.size() == 3 && k[2] != d) bad(n, "k " + str(k) + " is not [B,T,D] for q " + str(q));
  if (in.size() == 3 && *in[2] != k) bad(n, "v " + str(*in[2]) + " does not match k " + str(k));
  if (q[0] != 1 && q[0] != k[0])
    bad(n, "q batch " + std::to_string(q[0]) + " is neither 1 (shared) nor the k/v batch " + std::to_string(k[0]));
  if (d % h) bad(n, "heads " + std::to_string(h) + " do not divide D " + std::to_string(d));
  return {k[0], q[1], d};
}

// Per op: the output shape, or bad(). Operand counts, roles and attribute ranges are already checked.
Shape infer(const Node& n, const std::vector<const Shape*>& in, const WeightStore& w) {
  if (op_def(n.op).has(kElementwise)) {
    if (in[0]->empty()) bad(n, "scalar input");
    return *in[0];
  }
  switch (n.op) {
    case OpKind::Weight:
      return wshape(n, w, "weight");
    case OpKind::PatchEmbed: {
      const Shape& x = *in[0];
      const Shape& wt = wshape(n, w, "weight");
      const int64_t p = n.iattr("patch");
      if (x.size() != 4 || wt.size() != 4) bad(n, "expects x[B,C,H,W] and weight[D,C,P,P]");
      if (wt[2] != p || wt[3] != p || wt[1] != x[1]) bad(n, "weight " + str(wt) + " does not fit x " + str(x));
      if (!n.iattr("pad") && (x[2] % p || x[3] % p))
        bad(n, "image " + std::to_string(x[2]) + "x" + std::to_string(x[3]) + " is not a multiple of the patch size " +
                   std::to_string(p));
      const Shape& b = wshape(n, w, "bias");
      if (!b.empty() && (b.size() != 1 || b[0] != wt[0])) bad(n, "bias shape " + str(b));
      return {x[0], ((x[2] + p - 1) / p) * ((x[3] + p - 1) / p), wt[0]};
    }
    case OpKind::ConcatPrefix: {
      const Shape& x = *in[0];
      if (x.size() != 3) bad(n, "x must be [B,N,D]");
      int64_t t = x[1];
      for (size_t i = 1; i < in.size(); ++i) {
        const Shape& p = *in[i];
        if (p.size() != 3 || p[0] != 1 || p[2] != x[2]) bad(n, "prefix " + str(p) + " does not fit " + str(x));
        t += p[1];
      }
      return {x[0], t, x[2]};
    }
    case OpKind::Add: {
      const Shape &a = *in[0], &b = *in[1];
      if (b.size() == 1 && !a.empty() && b[0] == a.back()) return a;  // a bias vector over every row
      if (a.size() != b.size() || a.empty()) bad(n, "rank mismatch " + str(a) + " + " + str(b));
      for (size_t i = 1; i < a.size(); ++i)
        if (a[i] != b[i]) bad(n, "shape mismatch " + str(a) + " + " + str(b));
      if (b[0] != a[0] && b[0] != 1) bad(n, "batch mismatch " + str(a) + " + " + str(b));
      return a;
    }
    case OpKind::LayerNorm: {
      const Shape& x = *in[0];
      if (x.empty() || wshape(n, w, "weight") != Shape{x.back()} || wshape(n, w, "bias") != Shape{x.back()})
        bad(n, "weight/bias do not fit " + str(x));
      return x;
    }
    case OpKind::Linear: {
      const Shape& x = *in[0];
      const Shape& wt = wshape(n, w, "weight");
      if (x.empty() || wt.size() != 2 || wt[1] != x.back()) bad(n, "weight " + str(wt) + " does not fit input " + str(x));
      for (const char* role : {"bias", "gamma"}) {
        const Shape& v = wshape(n, w, role);
        if (!v.empty() && v != Shape{wt[0]}) bad(n, std::string(role) + " " + str(v) + " does not fit weight " + str(wt));
      }
      Shape y = x;
      y.back() = wt[0];
      if (in.size() == 2 && *in[1] != y) bad(n, "residual " + str(*in[1]) + " does not match output " + str(y));
      return y;
    }
    case OpKind::Attention: {
      if (in.size() > 1) return infer_attention_split(n, in);
      const Shape& x = *in[0];
      const int64_t h = n.iattr("heads");
      if (x.size() != 3 || x[2] % 3 || (x[2] / 3) % h) bad(n, "qkv " + str(x) + " with heads " + std::to_string(h));
      const int64_t q = n.has_attr("queries") ? n.iattr("queries") : x[1];
      if (q > x[1]) bad(n, "queries " + std::to_string(q) + " out of range 1.." + std::to_string(x[1]));
      return {x[0], q, x[2] / 3};
    }
    case OpKind::Pool: {
      const Shape& x = *in[0];
      if (x.size() != 3) bad(n, "x must be [B,T,D]");
      if (n.iattr("mode") == 0 ? n.iattr("index") >= x[1] : n.iattr("start") >= x[1])
        bad(n, "pool start/index out of range for " + str(x));
      return {x[0], x[2]};
    }
    case OpKind::Softmax:
      if (in[0]->empty()) bad(n, "scalar input");
      return *in[0];
    case OpKind::SliceTokens: {
      const Shape& x = *in[0];
      const int64_t s = n.iattr("start"), c = n.iattr("count");
      if (x.size() != 3 || s + c > x[1]) bad(n, "slice out of range for " + str(x));
      return {x[0], c, x[2]};
    }
    case OpKind::TokensToNchw: {
      const Shape& x = *in[0];
      const int64_t h = n.iattr("h"), ww = n.iattr("w");
      if (x.size() != 3 || h * ww != x[1])
        bad(n, "cannot view " + str(x) + " as a " + std::to_string(h) + "x" + std::to_string(ww) + " grid");
      return {x[0], x[2], h, ww};
    }
    case OpKind::PosResample: {
      const Shape& x = *in[0];
      const int64_t p = n.iattr("prefix"), oh = n.iattr("old_h"), ow = n.iattr("old_w");
      if (x.size() != 3 || x[0] != 1 || x[1] != p + oh * ow)
        bad(n, "pos_embed " + str(x) + " is not prefix " + std::to_string(p) + " + " + std::to_string(oh) + "x" + std::to_string(ow));
      return {1, p + n.iattr("h") * static_cast<int64_t>(n.iattr("w")), x[2]};
    }
    case OpKind::Conv2d: {
      const Shape& x = *in[0];
      const Shape& wt = wshape(n, w, "weight");
      if (x.size() != 4 || wt.size() != 4 || wt[1] != x[1])
        bad(n, "weight " + str(wt) + " does not fit x " + str(x) + " (x[B,C,H,W], weight[O,C,kh,kw])");
      for (const char* role : {"bias", "bn_weight", "bn_bias", "bn_mean", "bn_var"}) {
        const Shape& v = wshape(n, w, role);
        if (!v.empty() && v != Shape{wt[0]}) bad(n, std::string(role) + " " + str(v) + " does not fit weight " + str(wt));
      }
      int bn = 0;
      for (const char* role : {"bn_weight", "bn_bias", "bn_mean", "bn_var"}) bn += n.weight(role) ? 1 : 0;
      if (bn != 0 && bn != 4) bad(n, "batch norm needs all of bn_weight, bn_bias, bn_mean, bn_var");
      const int64_t s = n.iattr("stride"), d = n.iattr("dilation");
      const int64_t pt = n.iattr("pad_t"), pl = n.iattr("pad_l"), pb = n.iattr("pad_b"), pr = n.iattr("pad_r");
      const int64_t eh = d * (wt[2] - 1) + 1, ew = d * (wt[3] - 1) + 1;
      if (x[2] + pt + pb < eh || x[3] + pl + pr < ew) bad(n, "kernel larger than the padded input " + str(x));
      Shape y{x[0], wt[0], (x[2] + pt + pb - eh) / s + 1, (x[3] + pl + pr - ew) / s + 1};
      if (in.size() == 2 && *in[1] != y) bad(n, "residual " + str(*in[1]) + " does not match output " + str(y));
      return y;
    }
    case OpKind::GroupNorm: {
      const Shape& x = *in[0];
      const int64_t groups = n.iattr("groups");
      if (x.size() < 2 || x[1] % groups) bad(n, "x " + str(x) + " cannot be split into " + std::to_string(groups) + " groups");
      if (wshape(n, w, "weight") != Shape{x[1]} || wshape(n, w, "bias") != Shape{x[1]}) bad(n, "weight/bias do not fit " + str(x));
      if (in.size() == 2 && *in[1] != x) bad(n, "residual " + str(*in[1]) + " does not match " + str(x));
      return x;
    }
    case OpKind::Mul:
      if (*in[0] != *in[1] || in[0]->empty()) bad(n, "shapes differ: " + str(*in[0]) + " * " + str(*in[1]));
      return *in[0];
    case OpKind::Glu: {
      Shape y = *in[0];
      if (y.empty() || y.back() % 2) bad(n, "last dim of " + str(y) + " is not even (2H: gate and value halves)");
      y.back() /= 2;
      return y;
    }
    case OpKind::RmsNorm: {
      const Shape& x = *in[0];
      const Shape& g = wshape(n, w, "weight");
      if (x.empty() || g != Shape{x.back()}) bad(n, "weight " + str(g) + " does not fit " + str(x));
      return x;
    }
    case OpKind::HeadNorm: {
      const Shape& x = *in[0];
      const int64_t h = n.iattr("heads"), kind = n.iattr("kind");
      if (x.empty() || x.back() % 3) bad(n, "expects packed qkv [..,3D], got " + str(x));
      const int64_t d = x.back() / 3;
      if (d % h) bad(n, "heads " + std::to_string(h) + " do not divide D " + std::to_string(d));
      const Shape hd{d / h};
      const bool bias = n.weight("q_bias") != nullptr;
      if (bias != (n.weight("k_bias") != nullptr)) bad(n, "q_bias and k_bias come together");
      if (bias && kind == 1) bad(n, "RmsNorm (kind 1) has no bias");
      for (const char* role : {"q_weight", "k_weight", "q_bias", "k_bias"}) {
        const Shape& v = wshape(n, w, role);
        if (n.weight(role) && v != hd) bad(n, std::string(role) + " " + str(v) + " is not [head_dim] " + str(hd));
      }
      return x;
    }
    case OpKind::Rope: {
      const Shape& x = *in[0];
      const Shape& tab = wshape(n, w, "table");
      const int64_t h = n.iattr("heads"), sections = n.iattr("sections"), start = n.iattr("start");
      if (x.size() != 3) bad(n, "expects x[B,T,W], got " + str(x));
      if (tab.size() != 3 || tab[2] % 4) bad(n, "table " + str(tab) + " is not [Ht, N, 2*hd] with hd even");
      const int64_t hd = tab[2] / 2, d = h * hd;
      if (tab[0] != 1 && tab[0] != h) bad(n, "table " + str(tab) + ": Ht must be 1 or heads " + std::to_string(h));
      if (start > x[1] || tab[1] != x[1] - start)
        bad(n, "table " + str(tab) + " does not have one row per rotated token of " + str(x) + " (start " +
                   std::to_string(start) + ")");
      if (x[2] % d || sections * d > x[2])
        bad(n, std::to_string(sections) + " sections of heads*hd = " + std::to_string(d) + " do not fit " + str(x));
      return x;
    }
    case OpKind::SliceLast: {
      Shape y = *in[0];
      const int64_t s = n.iattr("start"), c = n.iattr("count");
      if (y.empty() || s + c > y.back())
        bad(n, "columns [" + std::to_string(s) + ", " + std::to_string(s + c) + ") out of range for " + str(y));
      y.back() = c;
      return y;
    }
    case OpKind::MaxPool2d:
    case OpKind::AvgPool2d: {
      const Shape& x = *in[0];
      const int64_t k = n.iattr("kernel"), s = n.iattr("stride");
      const int64_t pt = n.iattr("pad_t"), pl = n.iattr("pad_l"), pb = n.iattr("pad_b"), pr = n.iattr("pad_r");
      const bool ceil_mode = n.iattr("ceil_mode") != 0;
      if (x.size() != 4 || pt >= k || pl >= k || pb >= k || pr >= k) bad(n, "kernel / padding out of range for " + str(x));
      auto out = [&](int64_t len, int64_t p0, int64_t p1) {  // PyTorch's pooling_output_shape
        const int64_t span = len + p0 + p1 - k;
        if (span < 0) bad(n, "window larger than the padded input " + str(x));
        int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
        if (ceil_mode && (o - 1) * s >= len + p0) --o;  // the last window must start inside the input
        return o;
      };
      return {x[0], x[1], out(x[2], pt, pb), out(x[3], pl, pr)};
    }
    default:
      break;
  }
  bad(n, "no shape rule (core/shape-check.cc)");
}

}  // namespace

void validate_graph(const Graph& g, const WeightStore& w) {
  const int nt = static_cast<int>(g.shapes.size());
  std::vector<bool> defined(nt, false);
  auto check_id = [&](int id, const std::string& what) {
    if (id < 0 || id >= nt) fail(ErrorCode::Argument, what + ": tensor id " + std::to_string(id) + " out of range");
  };
  for (int id : g.inputs) {
    check_id(id, "graph input");
    defined[id] = true;
  }
  for (const auto& s : g.shapes)
    for (auto d : s)
      if (d <= 0) fail(ErrorCode::Shape, "graph has a tensor with a non-positive dimension " + str(s));
  for (const auto& n : g.nodes) {
    std::vector<const Shape*> in;
    for (int id : n.inputs) {
      check_id(id, n.name);
      if (!defined[id]) fail(ErrorCode::Argument, n.name + ": input tensor " + std::to_string(id) + " is not defined yet");
      in.push_back(&g.shapes[id]);
    }
    check_id(n.output, n.name);
    if (defined[n.output]) fail(ErrorCode::Argument, n.name + ": tensor " + std::to_string(n.output) + " defined twice");
    validate_node(n);
    Shape s = infer(n, in, w);
    if (s != g.shapes[n.output])
      fail(ErrorCode::Shape, std::string(op_name(n.op)) + " '" + n.name + "': output is " + str(s) +
                                 ", graph says " + str(g.shapes[n.output]));
    defined[n.output] = true;
  }
  for (const auto& o : g.outputs) {
    check_id(o.second, "output " + o.first);
    if (!defined[o.second]) fail(ErrorCode::Argument, "output " + o.first + " is never computed");
  }
}

}  // namespace vit
