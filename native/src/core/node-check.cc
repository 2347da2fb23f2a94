// The generic half of graph validation: each node against its op-table row (operand count, weight roles,
// attribute names, ranges and integrality). Runs before the per-op shape rules (shape-check.cc).
#include <cmath>
#include <sstream>

#include "vit/error.h"
#include "vit/op-table.h"

namespace vit {

namespace {

std::string num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

std::string range(double lo, double hi) {
  const bool open = hi >= kIntMax;
  return (lo == -kInf ? std::string("(-inf") : "[" + num(lo)) + ", " + (open ? std::string("inf)") : num(hi) + "]");
}

// The names of a row's roles or attributes (lists end at the first null name).
template <typename Def, int N>
std::string names(const Def (&list)[N]) {
  std::string s;
  for (int i = 0; i < N && list[i].name; ++i) s += (i ? ", " : "") + std::string(list[i].name);
  return s.empty() ? "none" : s;
}

}  // namespace

void validate_node(const Node& n) {
  const OpDef& d = op_def(n.op);
  const std::string where = std::string(d.name) + " '" + n.name + "'";
  const int ni = static_cast<int>(n.inputs.size());
  if (ni < d.min_inputs || (d.max_inputs >= 0 && ni > d.max_inputs)) {
    const std::string lo = std::to_string(d.min_inputs), hi = std::to_string(d.max_inputs);
    const std::string want = d.max_inputs < 0                ? "at least " + lo + " inputs"
                             : d.min_inputs != d.max_inputs ? lo + " to " + hi + " inputs"
                                                            : lo + (d.min_inputs == 1 ? " input" : " inputs");
    fail(ErrorCode::Shape, where + ": takes " + want + ", got " + std::to_string(ni));
  }
  for (const auto& w : n.weights)
    if (!d.role(w.first))
      fail(ErrorCode::Argument,
           where + ": unknown weight role '" + w.first + "' (roles: " + names(d.roles) + ")");
  for (int i = 0; i < kMaxRoles && d.roles[i].name; ++i)
    if (d.roles[i].required && !n.weight(d.roles[i].name))
      fail(ErrorCode::Shape, where + ": missing weight role '" + d.roles[i].name + "'");
  for (const auto& kv : n.attrs) {
    const AttrDef* a = d.attr(kv.first);
    if (!a)
      fail(ErrorCode::Argument,
           where + ": unknown attribute '" + kv.first + "' (attributes: " + names(d.attrs) + ")");
    const std::string what = where + ": attribute " + kv.first + " = " + num(kv.second);
    if (!(kv.second >= a->min && kv.second <= a->max))
      fail(ErrorCode::Shape, what + " is outside " + range(a->min, a->max) + " (" + a->doc + ")");
    if (a->integer && kv.second != std::floor(kv.second)) fail(ErrorCode::Shape, what + " must be an integer");
  }
  for (int i = 0; i < kMaxAttrs && d.attrs[i].name; ++i)
    if (d.attrs[i].use == AttrUse::Required && !n.has_attr(d.attrs[i].name))
      fail(ErrorCode::Shape, where + ": missing attribute '" + d.attrs[i].name + "' (" + d.attrs[i].doc + ")");
}

}  // namespace vit
