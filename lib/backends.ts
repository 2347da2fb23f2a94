// Which backends this process can use, and why not (vitnode doctor); which build of the addon it loaded.
import { addonPath, binding, type CudaStatus } from './binding.ts';
import { describeBuild, type BuildInfo } from './build-info.ts';

export type { BuildInfo } from './build-info.ts';

export function buildInfo(): BuildInfo {
  return describeBuild(addonPath());
}

/** CUDA's state; for an addon compiled without CUDA the reason names the build and how to get CUDA. */
export function cudaStatus(): CudaStatus {
  const s = binding.cudaStatus();
  if (s.compiled) return s;
  return { ...s, reason: buildInfo().noCuda };
}

export function backends(): { cpu: { available: true; cores: number; gemm: string }; cuda: CudaStatus; build: BuildInfo } {
  return { cpu: { available: true, ...binding.cpuInfo() }, cuda: cudaStatus(), build: buildInfo() };
}
