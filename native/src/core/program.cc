#include "vit/program.h"

#include "vit/error.h"

namespace vit {

Program::Program(Graph g, std::shared_ptr<WeightStore> w, const DeviceSpec& dev)
    : graph_(std::move(g)), weights_(std::move(w)) {
  validate_graph(graph_, *weights_);
  plan_ = plan_buffers(graph_);
  exec_ = dev.cuda ? make_cuda_executor(graph_, plan_, weights_, dev) : make_cpu_executor(graph_, plan_, weights_, dev);
  live_programs_add(1, plan_.arena_floats * 4);  // last: a constructor that throws counts nothing
}

Program::~Program() { live_programs_add(-1, -plan_.arena_floats * 4); }

std::vector<HostTensor> Program::run(const std::vector<const float*>& inputs, int threads) {
  VIT_CHECK(inputs.size() == graph_.inputs.size(), Argument,
            "program expects " + std::to_string(graph_.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  return exec_->run(inputs, threads);
}

}  // namespace vit
