// Buffer planning: liveness over the node order, first-fit placement in one arena.
#include <algorithm>
#include <map>

#include "vit/program.h"

namespace vit {

Plan plan_buffers(const Graph& g) {
  const int nt = static_cast<int>(g.shapes.size());
  const int nn = static_cast<int>(g.nodes.size());
  std::vector<int> last_use(nt, -1);
  std::vector<bool> is_weight(nt, false);
  for (int i = 0; i < nn; ++i) {
    for (int id : g.nodes[i].inputs) last_use[id] = std::max(last_use[id], i);
    if (g.nodes[i].op == OpKind::Weight) is_weight[g.nodes[i].output] = true;
  }
  for (const auto& o : g.outputs) last_use[o.second] = nn;  // outputs live to the end
  for (int id : g.inputs) last_use[id] = std::max(last_use[id], 0);

  Plan p;
  p.offset.assign(nt, -1);
  std::map<int64_t, int64_t> used;  // offset -> size, live allocations
  auto alloc = [&](int id) {
    int64_t size = (numel(g.shapes[id]) + 15) / 16 * 16;  // 64-byte aligned slots
    int64_t at = 0;
    for (const auto& kv : used) {
      if (kv.first - at >= size) break;
      at = std::max(at, kv.first + kv.second);
    }
    used[at] = size;
    p.offset[id] = at;
    p.arena_floats = std::max(p.arena_floats, at + size);
  };
  auto release_dead = [&](int step) {
    for (int id = 0; id < nt; ++id)
      if (p.offset[id] >= 0 && last_use[id] == step && used.count(p.offset[id])) used.erase(p.offset[id]);
  };
  for (int id : g.inputs) alloc(id);
  for (int i = 0; i < nn; ++i) {
    const Node& n = g.nodes[i];
    if (!is_weight[n.output]) alloc(n.output);
    release_dead(i);  // after the output is placed, so no node writes over its own inputs
  }
  return p;
}

}  // namespace vit
