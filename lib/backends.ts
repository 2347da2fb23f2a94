// Which backends this process can use, and why not (vitnode doctor).
import { binding, type CudaStatus } from './binding.ts';

export function cudaStatus(): CudaStatus {
  return binding.cudaStatus();
}

export function backends(): { cpu: { available: true; cores: number; gemm: string }; cuda: CudaStatus } {
  return { cpu: { available: true, ...binding.cpuInfo() }, cuda: binding.cudaStatus() };
}
