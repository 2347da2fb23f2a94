// The CUDA backend: every kernel against the CPU backend on odd shapes (N = 1, 197, 577; widths not multiples of
// 8) in float32 / TF32 / float16 / bfloat16, and the parity fixtures + digits on cuda for every dtype.
// Tolerances: test/fixtures/README.md. Skipped, with the reason in the title, when CUDA is unavailable.
import test from 'ava';
import { binding } from '../lib/binding.ts';
import { createModel, cudaStatus, readSafetensors, Tensor } from '../lib/index.ts';
import { DTYPES, digitsCheck, opCases, parityCases, runOpCase } from '../bench/gpu/checks.mjs';
import { FIXTURES } from './helpers.ts';

const status = cudaStatus();
const api = { createModel, Tensor, readSafetensors };

test('cudaStatus reports whether CUDA runs here and why not', (t) => {
  t.is(typeof status.compiled, 'boolean');
  t.is(typeof status.available, 'boolean');
  if (!status.available) {
    t.true(status.reason.length > 0, 'an unavailable backend says why');
    t.log(`CUDA unavailable: ${status.reason}`);
  } else {
    t.true(status.deviceCount > 0);
    t.is(status.devices.length, status.deviceCount);
    t.log(`CUDA devices: ${status.devices.join('; ')}`);
  }
});

if (!status.available) {
  const why = status.reason.split('\n')[0];
  test.skip(`CUDA per-op checks vs CPU and parity fixtures on cuda — skipped: ${why}`, () => {});
  test('a cuda model fails with VIT_E_CUDA and the reason when CUDA is unavailable', async (t) => {
    const err = await t.throwsAsync(() => createModel('deit_tiny_patch16_224', { device: 'cuda' }));
    t.is((err as Error & { code?: string }).code, 'VIT_E_CUDA');
    t.true(err!.message.includes(status.reason.split('\n')[0].slice(0, 40)));
  });
} else {
  for (const c of opCases()) {
    test(`op ${c.name}`, async (t) => {
      for (const r of await runOpCase(binding, c)) {
        t.true(r.ok, `${r.dtype}${r.kernel ? ` [attn ${r.kernel}]` : ''}: err ${r.err.toExponential(2)} > tol ${r.tol}`);
      }
    });
  }
  for (const c of parityCases(api, FIXTURES)) {
    for (const dt of DTYPES) {
      test(`parity ${c.name} on cuda ${dt.name}`, async (t) => {
        for (const r of await c.run(dt)) t.true(r.err <= dt.tol, `${r.output}: err ${r.err.toExponential(2)} > ${dt.tol}`);
      });
    }
  }
  for (const dt of DTYPES) {
    test(`digits on cuda ${dt.name}: timm's top-1 on every image`, async (t) => {
      const r = await digitsCheck(api, FIXTURES, dt);
      t.is(r.sameTop1, r.images);
      t.true(r.err <= dt.tol, `err ${r.err.toExponential(2)}`);
    });
  }
}
