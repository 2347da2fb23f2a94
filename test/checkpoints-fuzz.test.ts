// A seeded slice of bench/fuzz-parsers.ts (100,000+ cases there): mutated safetensors, .pth (zip, legacy, tar,
// hostile) and .npz files through openCheckpoint + read(); every failure must be a VitError, no case may hang.
import test from 'ava';
import { runFuzz } from '../bench/fuzz-parsers.ts';

test('3,000 mutated checkpoints: only VitErrors, no crash, no hang, < 20 s', (t) => {
  const res = runFuzz({ cases: 3000, seed: 20240611, hangMs: 1000 });
  t.deepEqual(res.crashes, []);
  t.deepEqual(res.hangs, []);
  t.is(res.cases, 3000);
  t.true(Object.values(res.byFamily).every((n) => n > 300), `every parser exercised: ${JSON.stringify(res.byFamily)}`);
  t.true(res.outcomes.VIT_E_CHECKPOINT > 1000, 'most mutations are rejected as corrupt');
  t.true(Object.keys(res.outcomes).some((k) => k.startsWith('loaded:')), 'some survive (e.g. flipped data bytes) and still load');
  t.true(res.seconds < 20, `${res.seconds} s`);
});
