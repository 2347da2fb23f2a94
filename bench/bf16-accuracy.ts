// Accuracy cost of the opt-in CPU bfloat16 GEMMs (createModel(..., { dtype: 'bfloat16' })) against timm:
// every parity fixture with logits (test/fixtures/parity/{modern,seed}: timm's float32 outputs on its weights),
// run by vitnode in float32 and in bfloat16; error = max|got - timm| / max(1, max|timm|) (the fixtures' measure),
// plus top-1 agreement with timm. `node --import=tsx bench/bf16-accuracy.ts`
import { join } from 'node:path';
import { createModel, Tensor } from '../lib/index.ts';
import { manifest, PARITY, readIo, relErr } from '../test/helpers.ts';

const argmaxRows = (d: Float32Array, cols: number) => Array.from({ length: d.length / cols }, (_, r) => {
  let best = 0;
  for (let j = 1; j < cols; j++) if (d[r * cols + j] > d[r * cols + best]) best = j;
  return best;
});

const rows: string[] = ['| case | float32 err | bfloat16 err | bf16 top-1 = timm |', '| --- | --- | --- | --- |'];
let worst = 0;
for (const era of ['modern', 'seed'] as const) {
  for (const c of manifest(era)) {
    if (!c.outputs.includes('logits') || c.config.model_args?.backbone) continue;
    const io = readIo(era, c.io);
    const xi = io.get('input')!;
    const want = io.get('logits')!;
    const errs: number[] = [];
    let agree = '';
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const m = await createModel(c.config, { checkpoint: join(PARITY, era, c.weights), dtype });
      const got = (await m.forward(new Tensor(xi.data, xi.shape))).data;
      m.dispose();
      errs.push(relErr(got, want.data));
      if (dtype === 'bfloat16') {
        const cols = want.shape.at(-1)!;
        const a = argmaxRows(got, cols);
        const b = argmaxRows(want.data, cols);
        agree = `${a.filter((v, i) => v === b[i]).length}/${a.length}`;
      }
    }
    worst = Math.max(worst, errs[1]);
    rows.push(`| ${era}/${c.name} | ${errs[0].toExponential(1)} | ${errs[1].toExponential(1)} | ${agree} |`);
  }
}
console.log(rows.join('\n'));
console.log(`\nworst bfloat16 error ${worst.toExponential(2)} (float32 tolerance 1e-4)`);
