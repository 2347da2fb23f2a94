// The CUDA checks as a plain node script (GPU machine: compiled dist/, no ava / tsx).
// Usage: node bench/gpu/run-checks.mjs [outDir]   -> cuda-checks.json + cuda-checks.md; exit 1 on a failure.
// Rows run under explicit settings carry them in their name. Per-op: "[attn v1]", "[attn v2]", "[attn v2 vs v1]"
// (fused attention cases). Parity fixtures again: "[attn v2]" (float16 / bfloat16), "[prune]" (every dtype,
// VITNODE_PRUNE_LAST_BLOCK=1: the last block computes only the head's tokens, attention `queries` on CUDA),
// "[attn v2, prune]" (float16 / bfloat16).
// CHECKS_ONLY=<regex>: only the per-op cases whose name matches (parity and digits skipped), e.g.
// CHECKS_ONLY='^(act|mul|glu|rms_norm|head_norm|slice_last|linear act|attention \[q|attention q =)' for the ops of
// timm's ViT families.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DTYPES, digitsCheck, opCases, parityCases, runOpCase, withEnv } from './checks.mjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const outDir = resolve(process.argv[2] ?? join(ROOT, 'gpu-out'));
mkdirSync(outDir, { recursive: true });
const deadline = Number(process.env.CHECKS_DEADLINE_MS ?? 0) || Infinity;
const only = process.env.CHECKS_ONLY ? new RegExp(process.env.CHECKS_ONLY) : null;
const lib = await import(join(ROOT, 'dist', 'index.js'));
const { binding } = await import(join(ROOT, 'dist', 'binding.js'));
const api = { createModel: lib.createModel, Tensor: lib.Tensor, readSafetensors: lib.readSafetensors };
const fixtures = join(ROOT, 'test', 'fixtures');

const status = binding.cudaStatus();
const rows = [];
let failed = 0;
const t0 = Date.now();
const record = (kind, name, dtype, err, tol, ok, detail = '') => {
  rows.push({ kind, name, dtype, err, tol, ok, detail });
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${kind} ${name} [${dtype}] err ${Number.isFinite(err) ? err.toExponential(2) : err} tol ${tol}${detail ? ' ' + detail : ''}`);
};
const write = () => {
  const summary = { status, passed: rows.filter((r) => r.ok).length, failed, seconds: (Date.now() - t0) / 1000, rows };
  writeFileSync(join(outDir, 'cuda-checks.json'), JSON.stringify(summary, null, 1));
  const md = [
    '# vitnode CUDA checks',
    '',
    `cudaStatus: ${JSON.stringify(status)}`,
    '',
    `${summary.passed} passed, ${failed} failed (${summary.seconds.toFixed(1)} s)`,
    '',
    '| kind | case | dtype | err | tol | ok | detail |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.kind} | ${r.name} | ${r.dtype} | ${Number.isFinite(r.err) ? r.err.toExponential(2) : r.err} | ${r.tol} | ${r.ok ? 'yes' : '**NO**'} | ${r.detail} |`),
  ];
  writeFileSync(join(outDir, 'cuda-checks.md'), md.join('\n') + '\n');
};

console.log('cudaStatus', JSON.stringify(status));
if (!status.available) {
  record('status', 'cudaStatus', '-', Infinity, 0, false, status.reason);
  write();
  process.exit(1);
}

async function guarded(kind, name, dtype, tol, fn) {
  try {
    await fn();
  } catch (e) {
    record(kind, name, dtype, Infinity, tol, false, `${e.code ?? ''} ${String(e.message).split('\n')[0].slice(0, 300)}`);
  }
}

// Parity first (whole models), then digits, then per-op.
for (const c of only ? [] : parityCases(api, fixtures)) {
  for (const dt of DTYPES) {
    if (Date.now() > deadline) break;
    await guarded('parity', c.name, dt.name, dt.tol, async () => {
      for (const r of await c.run(dt)) record('parity', `${c.name} ${r.output}`, dt.name, r.err, dt.tol, r.err <= dt.tol);
    });
  }
}
// The parity fixtures again under other settings (the fused attention kernels only run in 16-bit).
const sixteen = DTYPES.filter((d) => d.dtype !== 'float32');
const variants = [
  { tag: 'attn v2', env: { VITNODE_CUDA_ATTN: 'v2' }, dtypes: sixteen },
  { tag: 'prune', env: { VITNODE_PRUNE_LAST_BLOCK: '1' }, dtypes: DTYPES },
  { tag: 'attn v2, prune', env: { VITNODE_CUDA_ATTN: 'v2', VITNODE_PRUNE_LAST_BLOCK: '1' }, dtypes: sixteen },
];
for (const v of only ? [] : variants) {
  for (const c of parityCases(api, fixtures)) {
    for (const dt of v.dtypes) {
      if (Date.now() > deadline) break;
      const name = `${c.name} [${v.tag}]`;
      await guarded('parity', name, dt.name, dt.tol, async () => {
        for (const r of await withEnv(v.env, () => c.run(dt))) record('parity', `${name} ${r.output}`, dt.name, r.err, dt.tol, r.err <= dt.tol);
      });
    }
  }
}
for (const dt of only ? [] : DTYPES) {
  await guarded('digits', 'digits', dt.name, dt.tol, async () => {
    const r = await digitsCheck(api, fixtures, dt);
    record('digits', `digits top-1 ${r.sameTop1}/${r.images}`, dt.name, r.err, dt.tol, r.sameTop1 === r.images && r.err <= dt.tol);
  });
}
for (const c of opCases().filter((c) => !only || only.test(c.name))) {
  if (Date.now() > deadline) {
    record('op', 'remaining per-op cases skipped (time budget)', '-', 0, 0, true);
    break;
  }
  await guarded('op', c.name, 'all', 0, async () => {
    for (const r of await runOpCase(binding, c)) record('op', r.kernel ? `${c.name} [attn ${r.kernel}]` : c.name, r.dtype, r.err, r.tol, r.ok);
  });
}
write();
console.log(`${rows.filter((r) => r.ok).length} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
