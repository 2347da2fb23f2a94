// The op table (vit/ops.def) as data: operand counts, weight roles, attributes and traits of every op, and the
// generic node check they drive. Shape rules stay per op in core/shape-check.cc.
#pragma once
#include <limits>

#include "vit/act.h"
#include "vit/graph.h"

namespace vit {

enum OpTrait : unsigned {
  kNoTraits = 0,
  kRowWise = 1u << 0,      // output rows (last dim) never mix: the CPU executor may split the op by rows
  kElementwise = 1u << 1,  // y[i] = f(x[i]), one input, same shape (also its shape rule)
  kTestOnly = 1u << 2,     // emitted only by tests, for per-op checks
};

enum class AttrUse { Default, Required, Optional };  // Optional: absent means a shape-dependent default

struct RoleDef {
  const char* name;  // nullptr ends the list
  bool required;
};

struct AttrDef {
  const char* name;  // nullptr ends the list
  bool integer;
  double min, max;  // inclusive
  AttrUse use;
  double dflt;      // AttrUse::Default only
  const char* doc;
};

constexpr int kMaxRoles = 8;
constexpr int kMaxAttrs = 12;
constexpr double kIntMax = std::numeric_limits<int>::max();  // integer attributes are read as int
constexpr double kInf = std::numeric_limits<double>::infinity();

struct OpDef {
  OpKind kind;
  const char* name;
  int min_inputs, max_inputs;  // max -1: unbounded
  unsigned traits;
  const char* doc;
  RoleDef roles[kMaxRoles];
  AttrDef attrs[kMaxAttrs];

  bool has(OpTrait t) const { return (traits & t) != 0; }
  const AttrDef* attr(const std::string& name) const;  // nullptr: not an attribute of this op
  const RoleDef* role(const std::string& name) const;
};

constexpr int kOpCount = 0
#define VIT_OP(kind, ...) +1
#include "vit/ops.def"
#undef VIT_OP
    ;

const OpDef& op_def(OpKind k);
const OpDef* op_table();  // kOpCount rows, in OpKind order

// Operand count, weight roles and attributes of one node against its row: unknown attributes or roles are
// VIT_E_ARGUMENT; a wrong input count, a missing required role or attribute, a non-integer or out-of-range
// value are VIT_E_SHAPE (the spec does not fit the op). Messages name the op and the node.
void validate_node(const Node& n);

}  // namespace vit
