// Shared test helpers (not a test file: ava only runs *.test.ts). Everything reads test/fixtures/, never ../shared.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { createModel, readSafetensors, Tensor } from '../lib/index.ts';
import { binding, type NativeWeightStore } from '../lib/binding.ts';
import { GraphBuilder, type Sym } from '../lib/graph/builder.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const PARITY = join(FIXTURES, 'parity');

export interface ParityCase {
  name: string;
  config: { architecture: string; num_classes: number; model_args: Record<string, unknown> };
  weights: string;
  io: string;
  outputs: string[];
  note?: string;
}

export function manifest(era: 'modern' | 'seed'): ParityCase[] {
  return JSON.parse(readFileSync(join(PARITY, era, 'manifest.json'), 'utf8'));
}

export type Named = { shape: readonly number[]; data: Float32Array };

export function readIo(era: string, file: string): Map<string, { shape: number[]; data: Float32Array }> {
  return readSafetensors(join(PARITY, era, file));
}

/** max |got - expected| / max(1, max |expected|): the fixtures' tolerance measure. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / Math.max(1, m);
}

export const TOL = 1e-4;

/** Float32 kernels vs float64 references, relative to max(1, max|ref|). */
export const OP_TOL = 1e-5;

/** A single-op output against a float64 reference: same shape, relative error within tol. */
export function near(t: ExecutionContext, got: { shape: number[]; data: Float32Array }, shape: number[], want: ArrayLike<number>, what: string, tol = OP_TOL): void {
  t.deepEqual(got.shape, shape, `${what}: shape`);
  const e = relErr(got.data, want);
  t.true(e <= tol, `${what}: rel err ${e.toExponential(3)} > ${tol}`);
}

/** Asserts shape equality and the fixtures' float32 tolerance. */
export function close(t: ExecutionContext, got: Named, want: Named, what: string, tol = TOL): void {
  t.deepEqual([...got.shape], [...want.shape], `${what}: shape`);
  const e = relErr(got.data, want.data);
  t.true(e <= tol, `${what}: rel err ${e.toExponential(3)} > ${tol}`);
}

export function argmax(a: ArrayLike<number>, off = 0, n = a.length): number {
  let best = off;
  for (let i = off; i < off + n; i++) if (a[i] > a[best]) best = i;
  return best - off;
}

/** Rows [from, to) of the first axis. */
export function rows(x: Named, from: number, to: number): Tensor {
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(x.data.slice(from * per, to * per), [to - from, ...x.shape.slice(1)]);
}

export function concat(parts: Named[]): Tensor {
  const n = parts.reduce((a, p) => a + p.data.length, 0);
  const data = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    data.set(p.data, o);
    o += p.data.length;
  }
  return new Tensor(data, [parts.reduce((a, p) => a + p.shape[0], 0), ...parts[0].shape.slice(1)]);
}

export function tmpDir(t: ExecutionContext): string {
  const d = mkdtempSync(join(tmpdir(), 'vitnode-test-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A safetensors file with raw tensors of any dtype (writeSafetensors only writes F32). */
export function writeRawSafetensors(path: string, tensors: [string, string, readonly number[], Uint8Array][]): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, dtype, shape, bytes] of tensors) {
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.byteLength] };
    off += bytes.byteLength;
  }
  const hdr = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  writeFileSync(path, Buffer.concat([len, hdr, ...tensors.map((x) => Buffer.from(x[3].buffer, x[3].byteOffset, x[3].byteLength))]));
}

/** Seeded N(0,1)-ish values (sum of uniforms), deterministic across runs. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * Math.sqrt(3) * scale;
  return out;
}

export const BASIC = manifest('modern').find((c) => c.name === 'vit_basic')!;
export const basicCheckpoint = join(PARITY, 'modern', BASIC.weights);

/** Proof that the process still works: a fresh vit_basic model matches timm's logits. */
export async function assertStillWorks(t: ExecutionContext): Promise<void> {
  const io = readIo('modern', BASIC.io);
  const m = await createModel(BASIC.config, { checkpoint: basicCheckpoint });
  try {
    const x = io.get('input')!;
    const y = await m.forward(new Tensor(x.data, x.shape));
    close(t, y, io.get('logits')!, 'vit_basic logits after the error');
  } finally {
    m.dispose();
  }
}

const ROOT_DIR = fileURLToPath(new URL('..', import.meta.url));
const execFileP = promisify(execFile);

/** Runs the CLI (lib/cli/main.ts) in a child process; never throws, returns the exit code and output. */
export async function vitnode(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(process.execPath, ['--import=tsx', join(ROOT_DIR, 'lib/cli/main.ts'), ...args], { cwd: ROOT_DIR, maxBuffer: 64 << 20 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A native weight store holding float32 tensors (dispose it). */
export function opStore(weights: Record<string, [number[], Float32Array]> = {}): NativeWeightStore {
  const s = new binding.WeightStore();
  for (const [k, [shape, data]] of Object.entries(weights)) s.set(k, shape, data);
  return s;
}

/** Builds a graph with `build` (its result is the output 'y'), runs it once on CPU on `feeds` and returns 'y'. */
export function runOp(s: NativeWeightStore, build: (g: GraphBuilder) => Sym, feeds: Float32Array[], threads = 2) {
  const g = new GraphBuilder();
  g.output('y', build(g));
  const p = new binding.Program(g.spec(), s, { device: 'cpu' });
  try {
    const [o] = p.runSync(feeds, threads);
    return o;
  } finally {
    p.dispose();
  }
}

/** The error code a synchronous call throws ('no error' when it returns). */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'no error';
}
