// Buffer planning, shared by both backends: liveness over the node order, first-fit placement in one arena.
#include <algorithm>
#include <map>

#include "vit/program.h"

namespace vit {

ArenaPlan plan_arena(const Graph& g, int64_t elem_bytes, int64_t align) {
  const int nt = static_cast<int>(g.shapes.size());
  const int nn = static_cast<int>(g.nodes.size());
  // The last node that reads each tensor; an output nobody reads dies at its own node.
  std::vector<int> last_use(nt, -1);
  std::vector<bool> is_weight(nt, false);
  for (int i = 0; i < nn; ++i) {
    const Node& n = g.nodes[i];
    for (int id : n.inputs) last_use[id] = std::max(last_use[id], i);
    last_use[n.output] = std::max(last_use[n.output], i);
    if (n.op == OpKind::Weight) is_weight[n.output] = true;
  }
  for (const auto& o : g.outputs) last_use[o.second] = nn;  // outputs live to the end
  for (int id : g.inputs) last_use[id] = std::max(last_use[id], 0);

  ArenaPlan p;
  p.offset.assign(nt, -1);
  std::map<int64_t, int64_t> used;  // offset -> size, live allocations
  auto alloc = [&](int id) {
    const int64_t size = (std::max<int64_t>(1, numel(g.shapes[id]) * elem_bytes) + align - 1) / align * align;
    int64_t at = 0;
    for (const auto& kv : used) {
      if (kv.first - at >= size) break;
      at = std::max(at, kv.first + kv.second);
    }
    used[at] = size;
    p.offset[id] = at;
    p.bytes = std::max(p.bytes, at + size);
  };
  auto release_dead = [&](int step) {
    for (int id = 0; id < nt; ++id)
      if (p.offset[id] >= 0 && last_use[id] == step) used.erase(p.offset[id]);
  };
  for (int id : g.inputs) alloc(id);
  for (int i = 0; i < nn; ++i) {
    const Node& n = g.nodes[i];
    if (!is_weight[n.output]) alloc(n.output);
    release_dead(i);  // after the output is placed, so no node writes over its own inputs
  }
  return p;
}

Plan plan_buffers(const Graph& g) {
  ArenaPlan a = plan_arena(g, sizeof(float), 64);  // 64-byte aligned slots
  Plan p;
  p.offset = std::move(a.offset);
  for (auto& o : p.offset)
    if (o >= 0) o /= sizeof(float);
  p.arena_floats = a.bytes / static_cast<int64_t>(sizeof(float));
  return p;
}

}  // namespace vit
