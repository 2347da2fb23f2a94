// Seeded mutation fuzzer for the three checkpoint parsers (safetensors; PyTorch zip / legacy / tar pickles; .npz),
// through the public entry point openCheckpoint + read() of every tensor. Every failure must be a VitError; anything
// else (TypeError, RangeError, a crash) or a case slower than the hang limit is a finding, saved for replay.
//   node --import=tsx bench/fuzz-parsers.ts [--cases 100000] [--seed 1] [--out dir]
// test/checkpoints-fuzz.test.ts runs a few thousand cases of the same code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mulberry32 } from '../lib/weights/init.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VitError } from '../lib/errors.ts';
import { openCheckpoint } from '../lib/weights/checkpoint.ts';
import { toFloat32 } from '../lib/weights/safetensors.ts';
import { npyBytes, toJax, zipBytes, type JaxLayout } from '../scripts/write-npz.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
type Family = 'safetensors' | 'pth' | 'npz';

export interface FuzzResult {
  cases: number;
  byFamily: Record<Family, number>;
  /** How inputs failed (VitError codes) or loaded. */
  outcomes: Record<string, number>;
  crashes: { seedFile: string; error: string; input: string }[];
  hangs: { seedFile: string; ms: number; input: string }[];
  maxMs: number;
  seconds: number;
}

// Seed 0 would make mulberry32's first state 0: keep the old `|| 1`.
const rng = (seed: number) => mulberry32(seed >>> 0 || 1);

/** A tiny ViT state dict (D=8, 2 heads, depth 2) for small .npz seeds. */
function tinyStateDict(): Map<string, { shape: number[]; data: Float32Array }> {
  const r = rng(7);
  const t = (...shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() - 0.5) });
  const sd = new Map([['cls_token', t(1, 1, 8)], ['pos_embed', t(1, 5, 8)], ['patch_embed.proj.weight', t(8, 3, 2, 2)], ['patch_embed.proj.bias', t(8)],
    ['norm.weight', t(8)], ['norm.bias', t(8)], ['head.weight', t(3, 8)], ['head.bias', t(3)]]);
  for (let i = 0; i < 2; i++) {
    const b = `blocks.${i}.`;
    for (const [k, s] of [['norm1.weight', [8]], ['norm1.bias', [8]], ['attn.qkv.weight', [24, 8]], ['attn.qkv.bias', [24]], ['attn.proj.weight', [8, 8]],
      ['attn.proj.bias', [8]], ['norm2.weight', [8]], ['norm2.bias', [8]], ['mlp.fc1.weight', [16, 8]], ['mlp.fc1.bias', [16]], ['mlp.fc2.weight', [8, 16]], ['mlp.fc2.bias', [8]]] as const) {
      sd.set(b + k, t(...s));
    }
  }
  return sd;
}

/** The seed corpus: small real files of every layout the parsers accept, plus hostile pickles. */
export function corpus(): { name: string; family: Family; bytes: Buffer }[] {
  const f = (p: string) => readFileSync(join(ROOT, p));
  const out: { name: string; family: Family; bytes: Buffer }[] = [
    { name: 'views.expected.safetensors', family: 'safetensors', bytes: f('test/fixtures/pth/views.expected.safetensors') },
    { name: 'vit_basic_npz_48.safetensors', family: 'safetensors', bytes: f('test/fixtures/npz/vit_basic_npz_48.safetensors') },
    { name: 'views.pth', family: 'pth', bytes: f('test/fixtures/pth/views.pth') },
    { name: 'views_legacy.pth', family: 'pth', bytes: f('test/fixtures/pth/views_legacy.pth') },
    { name: 'views_tar.pth', family: 'pth', bytes: f('test/fixtures/pth/views_tar.pth') },
    { name: 'hostile_os_system.pth', family: 'pth', bytes: f('test/fixtures/pth/hostile_os_system.pth') },
    { name: 'hostile_legacy_os_system.pth', family: 'pth', bytes: f('test/fixtures/pth/hostile_legacy_os_system.pth') },
  ];
  const sd = tinyStateDict();
  for (const layout of ['original', 'big_vision', 'big_vision_scanned'] as JaxLayout[]) {
    for (const compress of [false, true]) {
      const arrays = toJax(sd, layout, 2);
      out.push({ name: `tiny-${layout}${compress ? '-z' : ''}.npz`, family: 'npz', bytes: zipBytes([...arrays].map(([k, v]) => [`${k}.npy`, npyBytes(v)]), compress) });
    }
  }
  out.push({ name: 'tiny-plain.npz', family: 'npz', bytes: zipBytes([...sd].map(([k, v]) => [`${k}.npy`, npyBytes(v)]), false) });
  return out;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x28, 0x2e, 0x52, 0x63, 0x71, 0x85, 0x93, 0x7b];
const OPCODES = Buffer.from('()012FGIJKLMNPQRSTUVXabcdeghijlopqrstu}]\x80\x81\x82\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98', 'latin1');

function mutate(src: Buffer, all: Buffer[], r: () => number): Buffer {
  let b = Buffer.from(src);
  const int = (n: number) => Math.floor(r() * n);
  const steps = 1 + int(4);
  for (let s = 0; s < steps; s++) {
    const pos = int(Math.max(1, b.length));
    switch (int(10)) {
      case 0: // bit flips
        for (let i = 0, n = 1 + int(8); i < n && b.length; i++) b[int(b.length)] ^= 1 << int(8);
        break;
      case 1: // interesting bytes
        if (b.length) b[pos] = INTERESTING[int(INTERESTING.length)];
        break;
      case 2: { // boundary integers (sizes, offsets, counts)
        const w = r() < 0.5 ? 4 : 8;
        if (pos + w > b.length) break;
        const vals = [0n, 1n, 0x7fffffffn, 0xffffffffn, BigInt(b.length), BigInt(b.length + 1), BigInt(int(1 << 30)), (1n << 63n) - 1n];
        const v = vals[int(vals.length)];
        if (w === 4) b.writeUInt32LE(Number(v & 0xffffffffn), pos);
        else b.writeBigUInt64LE(v, pos);
        break;
      }
      case 3: // truncate
        b = b.subarray(0, pos);
        break;
      case 4: { // delete a range
        const n = 1 + int(64);
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + n)]);
        break;
      }
      case 5: { // insert random bytes or duplicate a range
        const ins = r() < 0.5 ? Buffer.from(Array.from({ length: 1 + int(32) }, () => int(256))) : b.subarray(int(b.length), int(b.length) + 1 + int(256));
        b = Buffer.concat([b.subarray(0, pos), ins, b.subarray(pos)]);
        break;
      }
      case 6: { // splice from another corpus file
        const o = all[int(all.length)];
        const from = int(o.length);
        const chunk = o.subarray(from, from + 1 + int(512));
        b = Buffer.concat([b.subarray(0, pos), chunk, b.subarray(pos + chunk.length)]);
        break;
      }
      case 7: // pickle opcode
        if (b.length) b[pos] = OPCODES[int(OPCODES.length)];
        break;
      case 8: { // ASCII digits (.npy shapes, tar sizes, JSON offsets)
        const i = b.indexOf(0x30 + int(10), pos);
        if (i >= 0) {
          const rep = Buffer.from(String([0, 9, 99999999, 2 ** 53, -1][int(5)]));
          b = Buffer.concat([b.subarray(0, i), rep, b.subarray(i + 1)]);
        }
        break;
      }
      default: { // random bytes over a range
        const n = 1 + int(16);
        for (let i = 0; i < n && pos + i < b.length; i++) b[pos + i] = int(256);
      }
    }
  }
  return b;
}

/** Opens the file and materialises every tensor, as loading would. */
function exercise(path: string): string {
  const c = openCheckpoint(path);
  try {
    for (const t of c.tensors.values()) toFloat32(t.read(), t.dtype);
    return `loaded:${c.format}`;
  } finally {
    c.close();
  }
}

export function runFuzz(opts: { cases: number; seed: number; hangMs?: number; keep?: string }): FuzzResult {
  const t0 = Date.now();
  const r = rng(opts.seed);
  const seeds = corpus();
  const all = seeds.map((s) => s.bytes);
  const dir = mkdtempSync(join(tmpdir(), 'vitnode-fuzz-'));
  const path = join(dir, 'case');
  const res: FuzzResult = { cases: 0, byFamily: { safetensors: 0, pth: 0, npz: 0 }, outcomes: {}, crashes: [], hangs: [], maxMs: 0, seconds: 0 };
  const hangMs = opts.hangMs ?? 1000;
  const save = (input: Buffer, kind: string) => {
    if (!opts.keep) return '';
    mkdirSync(opts.keep, { recursive: true });
    const p = join(opts.keep, `${kind}-${res.cases}.bin`);
    writeFileSync(p, input);
    return p;
  };
  try {
    for (let i = 0; i < opts.cases; i++) {
      const s = seeds[Math.floor(r() * seeds.length)];
      const input = r() < 0.03 ? Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256))) : mutate(s.bytes, all, r);
      writeFileSync(path, input);
      res.cases++;
      res.byFamily[s.family]++;
      const c0 = performance.now();
      let outcome: string;
      try {
        outcome = exercise(path);
      } catch (err) {
        if (err instanceof VitError) outcome = err.code;
        else {
          outcome = 'CRASH';
          res.crashes.push({ seedFile: s.name, error: String((err as Error)?.stack ?? err).split('\n').slice(0, 4).join(' | '), input: save(input, 'crash') });
        }
      }
      const ms = performance.now() - c0;
      res.maxMs = Math.max(res.maxMs, ms);
      if (ms > hangMs) res.hangs.push({ seedFile: s.name, ms, input: save(input, 'hang') });
      res.outcomes[outcome] = (res.outcomes[outcome] ?? 0) + 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  res.seconds = (Date.now() - t0) / 1000;
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' }, out: { type: 'string', default: join(tmpdir(), 'vitnode-fuzz-findings') } } });
  const res = runFuzz({ cases: Number(values.cases), seed: Number(values.seed), keep: values.out });
  console.log(JSON.stringify({ ...res, crashes: res.crashes.slice(0, 20), hangs: res.hangs.slice(0, 20) }, null, 1));
  console.log(`${res.cases} cases (safetensors ${res.byFamily.safetensors}, pth ${res.byFamily.pth}, npz ${res.byFamily.npz}) in ${res.seconds.toFixed(1)} s: ` +
    `${res.crashes.length} crashes, ${res.hangs.length} hangs, slowest case ${res.maxMs.toFixed(1)} ms`);
  process.exitCode = res.crashes.length || res.hangs.length ? 1 : 0;
}
