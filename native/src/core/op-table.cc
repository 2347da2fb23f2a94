// The op table as data (rows in vit/ops.def), its lookups, and attribute defaults for Node::attr.
#include "vit/op-table.h"

#include "vit/error.h"

namespace vit {

namespace {

#define VIT_ROLES(...) {__VA_ARGS__}
#define VIT_REQ(name) RoleDef{name, true}
#define VIT_OPT(name) RoleDef{name, false}
#define VIT_ATTRS(...) {__VA_ARGS__}
#define VIT_INT(name, lo, hi, dflt, doc) AttrDef{name, true, lo, hi, AttrUse::Default, dflt, doc}
#define VIT_REAL(name, lo, hi, dflt, doc) AttrDef{name, false, lo, hi, AttrUse::Default, dflt, doc}
#define VIT_INT_REQ(name, lo, hi, doc) AttrDef{name, true, lo, hi, AttrUse::Required, 0, doc}
#define VIT_INT_OPT(name, lo, hi, doc) AttrDef{name, true, lo, hi, AttrUse::Optional, 0, doc}
#define VIT_OP(kind, name, lo, hi, traits, doc, roles, attrs) OpDef{OpKind::kind, name, lo, hi, traits, doc, roles, attrs},
constexpr OpDef kOps[] = {
#include "vit/ops.def"
};
#undef VIT_OP
#undef VIT_INT_OPT
#undef VIT_INT_REQ
#undef VIT_REAL
#undef VIT_INT
#undef VIT_ATTRS
#undef VIT_OPT
#undef VIT_REQ
#undef VIT_ROLES

constexpr bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Rows in OpKind order, unique names, defaults inside their ranges and integral where they must be.
constexpr bool table_ok() {
  for (int i = 0; i < kOpCount; ++i) {
    const OpDef& d = kOps[i];
    if (static_cast<int>(d.kind) != i || d.min_inputs < 0 || (d.max_inputs >= 0 && d.max_inputs < d.min_inputs))
      return false;
    for (int j = 0; j < i; ++j)
      if (same(kOps[j].name, d.name)) return false;
    for (int a = 0; a < kMaxAttrs && d.attrs[a].name; ++a) {
      const AttrDef& x = d.attrs[a];
      if (x.min > x.max || (x.use == AttrUse::Default && !(x.dflt >= x.min && x.dflt <= x.max))) return false;
      if (x.integer && x.use == AttrUse::Default && x.dflt != static_cast<double>(static_cast<long long>(x.dflt)))
        return false;
      for (int b = 0; b < a; ++b)
        if (same(d.attrs[b].name, x.name)) return false;
    }
    for (int r = 0; r < kMaxRoles && d.roles[r].name; ++r)
      for (int b = 0; b < r; ++b)
        if (same(d.roles[b].name, d.roles[r].name)) return false;
  }
  return true;
}
static_assert(table_ok(), "vit/ops.def: rows out of order, a duplicate name, or a default outside its range");

}  // namespace

const OpDef* op_table() { return kOps; }

const OpDef& op_def(OpKind k) {
  const int i = static_cast<int>(k);
  VIT_CHECK(i >= 0 && i < kOpCount, Internal, "op kind " + std::to_string(i) + " is not in the op table");
  return kOps[i];
}

const char* op_name(OpKind k) { return op_def(k).name; }

OpKind op_from_name(const std::string& name) {
  for (const auto& d : kOps)
    if (name == d.name) return d.kind;
  fail(ErrorCode::Unsupported, "unknown op '" + name + "'");
}

const AttrDef* OpDef::attr(const std::string& n) const {
  for (const auto& a : attrs) {
    if (!a.name) break;
    if (n == a.name) return &a;
  }
  return nullptr;
}

const RoleDef* OpDef::role(const std::string& n) const {
  for (const auto& r : roles) {
    if (!r.name) break;
    if (n == r.name) return &r;
  }
  return nullptr;
}

double Node::attr(const std::string& k) const {
  auto it = attrs.find(k);
  if (it != attrs.end()) return it->second;
  const AttrDef* a = op_def(op).attr(k);
  const std::string where = std::string(op_name(op)) + " '" + name + "'";
  VIT_CHECK(a, Internal, where + ": a backend read attribute '" + k + "', which the op table does not list");
  VIT_CHECK(a->use == AttrUse::Default, Internal, where + ": attribute '" + k + "' is absent and has no default");
  return a->dflt;
}

}  // namespace vit
