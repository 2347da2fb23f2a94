// The graph spec TS builds once per model and input shape. Ops, weight roles and attributes are the contract
// shared by every backend (cpu/, cuda/): the op table vit/ops.def (as data: vit/op-table.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vit {

// One enumerator per row of vit/ops.def (its semantics are there).
enum class OpKind {
#define VIT_OP(kind, ...) kind,
#include "vit/ops.def"
#undef VIT_OP
};

const char* op_name(OpKind k);
OpKind op_from_name(const std::string& name);  // throws Unsupported for a name not in the table

struct Node {
  OpKind op;
  std::string name;                  // timm module path, for errors and dumps
  std::vector<int> inputs;           // tensor ids
  int output = -1;                   // tensor id
  std::map<std::string, std::string> weights;  // role -> state_dict key
  std::map<std::string, double> attrs;

  // An attribute's value, or the op table's default when absent (validate_graph has checked both). Attributes
  // without a default (required, or shape-dependent: has_attr first) throw Internal when absent.
  double attr(const std::string& k) const;
  int iattr(const std::string& k) const { return static_cast<int>(attr(k)); }
  bool has_attr(const std::string& k) const { return attrs.count(k) != 0; }
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
