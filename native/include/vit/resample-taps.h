// 1-D resampling weights with PyTorch's F.interpolate rules (timm-vit-spec.md 3.4), computed on the host in
// float64 and shared by both backends' pos_resample (the CPU applies them in float64, CUDA in float32).
#pragma once
#include <cstdint>
#include <vector>

namespace vit {

enum class Resample { Bilinear = 0, BicubicAA = 1, Bicubic = 2 };  // the pos_resample op's `mode`

// For each output index: the first source index and the weights of the consecutive sources from there.
struct Taps {
  std::vector<int64_t> first;
  std::vector<std::vector<double>> w;
};
Taps resample_taps(int64_t in, int64_t out, Resample mode);

}  // namespace vit
