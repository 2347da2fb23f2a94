// Types for checks.mjs (plain JS so that a GPU machine without tsx can run it).
export interface DtypeSpec {
  name: 'float32' | 'tf32' | 'float16' | 'bfloat16';
  dtype: 'float32' | 'float16' | 'bfloat16';
  tf32: boolean;
  tol: number;
}
export const DTYPES: DtypeSpec[];
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number;
export const ATTN_KERNELS: string[];
export const ATTN_V2_VS_V1_TOL: number;
export function withEnv<R>(vars: Record<string, string>, fn: () => R | Promise<R>): Promise<R>;
export function withAttnKernel<R>(kernel: string | null | undefined, fn: () => R | Promise<R>): Promise<R>;
export interface OpCase {
  name: string;
  build: () => unknown;
  attnKernels?: boolean;
}
export function opCases(): OpCase[];
export function runOpCase(
  binding: unknown,
  c: OpCase,
  dtypes?: DtypeSpec[],
): Promise<{ dtype: string; kernel?: string; err: number; tol: number; ok: boolean }[]>;
export interface ParityCase {
  name: string;
  run: (dt: DtypeSpec) => Promise<{ output: string; err: number }[]>;
}
export function parityCases(api: unknown, fixtures: string): ParityCase[];
export function digitsCheck(
  api: unknown,
  fixtures: string,
  dt: DtypeSpec,
): Promise<{ images: number; sameTop1: number; err: number }>;
