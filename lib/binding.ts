// The whole native surface in one place, with its sync/async nature. Loaded with node-gyp-build, which finds
// prebuilds/<platform>-<arch>/*.node or build/Release/vitnode.node.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

/** One node as it crosses into native code; lib/graph/builder.ts types `op`, weights and attrs per op. */
export interface GraphNodeSpec {
  op: string;
  name: string;
  inputs: number[];
  output: number;
  weights?: Record<string, string>;
  attrs?: Record<string, number>;
}

export interface GraphSpec {
  shapes: number[][];
  inputs: number[];
  outputs: [string, number][];
  nodes: GraphNodeSpec[];
}

export interface NativeOutput {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface DeviceSpec {
  device: 'cpu' | 'cuda';
  index?: number;
  dtype?: 'float32' | 'float16' | 'bfloat16';
  tf32?: boolean;
}

export interface NativeWeightStore {
  /** Copies (and converts F16/BF16/F64 to float32) into native memory. Sync. */
  set(name: string, shape: number[], data: ArrayBufferView, dtype?: 'F32' | 'F16' | 'BF16' | 'F64'): void;
  get(name: string): Float32Array;
  shape(name: string): number[];
  has(name: string): boolean;
  names(): string[];
  bytes(): number;
  dispose(): void;
}

export interface NativeProgram {
  /** One async call off the event loop; resolves with the graph's outputs in order. The inputs are read in
   *  place (no copy): do not modify or transfer them until the Promise settles. */
  run(inputs: Float32Array[], threads?: number): Promise<NativeOutput[]>;
  /** Blocking twin for tests and tiny load-time ops. */
  runSync(inputs: Float32Array[], threads?: number): NativeOutput[];
  arenaBytes(): number;
  /** Mean ms per run of every node (and of the transfer phases) when the CUDA backend profiles
   *  (env VITNODE_CUDA_PROFILE=1: eager runs, events around every op); [] otherwise. */
  profile(): NativeProfileEntry[];
  dispose(): void;
}

export interface NativeProfileEntry {
  name: string;
  op: string;
  ms: number;
  runs: number;
}

export interface CudaStatus {
  compiled: boolean;
  available: boolean;
  reason: string;
  deviceCount: number;
  devices: string[];
}

/** One attribute of an op (native/include/vit/ops.def). Limits are inclusive; null: unbounded. */
export interface NativeOpAttr {
  name: string;
  type: 'int' | 'real';
  min: number | null;
  max: number | null;
  /** null: required, or (required false) a default that depends on the shapes */
  default: number | null;
  required: boolean;
  doc: string;
}

/** One row of the native op table: the contract every backend implements and GraphBuilder emits. */
export interface NativeOpDef {
  name: string;
  doc: string;
  minInputs: number;
  /** null: any number */
  maxInputs: number | null;
  traits: ('row_wise' | 'elementwise' | 'test_only')[];
  roles: { name: string; required: boolean }[];
  attrs: NativeOpAttr[];
  /** Which backends of this binary run the op (a Program with an op its backend lacks fails VIT_E_UNSUPPORTED). */
  backends: { cpu: boolean; cuda: boolean };
}

export interface Binding {
  WeightStore: new () => NativeWeightStore;
  Program: new (graph: GraphSpec, weights: NativeWeightStore, device?: DeviceSpec) => NativeProgram;
  cudaStatus(): CudaStatus;
  cpuInfo(): { cores: number; gemm: string };
  /** Live native objects, process-wide: weight stores + their float32 bytes, programs + planned arena bytes. */
  nativeStats(): NativeStats;
  /** The op table, sync (lib/graph/ops.generated.ts is generated from it by scripts/gen-ops.ts). */
  opTable(): NativeOpDef[];
}

export interface NativeStats {
  weightStores: number;
  weightBytes: number;
  programs: number;
  arenaBytes: number;
}

function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`vitnode: no package.json above ${start}`);
  }
}

const require = createRequire(import.meta.url);

function load(): Binding {
  const root = packageRoot();
  try {
    return require('node-gyp-build')(root) as Binding;
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(
      `vitnode: could not load the native addon (${msg}).\n` +
        'Possible causes: the addon was not built (run `npm run build`), oneDNN is missing ' +
        '(`apt-get install libdnnl2` or libdnnl-dev), or glibc is older than 2.34.',
    );
  }
}

export const binding: Binding = load();

/** The path of the .node file node-gyp-build loads (what `load()` took). */
export function addonPath(): string {
  return require('node-gyp-build').resolve(packageRoot()) as string;
}
