// vitnode bench: how fast is this model on this machine? Random weights unless --checkpoint.
import { performance } from 'node:perf_hooks';
import { Tensor } from '../tensor.ts';
import { deviceOptions, intOpt, parse, usage } from './args.ts';
import { createFromArg } from './images.ts';

export async function benchCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    { batch: { type: 'string', default: '1' }, seconds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false }, ...deviceOptions },
    true,
  );
  if (positionals.length !== 1) usage('bench takes one model name or config.json path');
  const batch = intOpt(values.batch, 'batch')!;
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) usage('--seconds must be positive');
  const model = await createFromArg(positionals[0], {
    checkpoint: values.checkpoint,
    threads: intOpt(values.threads, 'threads'),
    device: values.device,
    dtype: values.dtype as 'float32',
  });
  try {
    const [h, w] = model.config.imgSize;
    const data = new Float32Array(batch * model.config.inChans * h * w);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37);
    const x = new Tensor(data, [batch, model.config.inChans, h, w]);
    for (let i = 0; i < 2; i++) await model.forward(x); // warm-up: compile + pack weights
    const times: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 || times.length < 3) {
      const s = performance.now();
      await model.forward(x);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
    const r = {
      model: model.name,
      label: model.label,
      batch,
      threads: values.threads ? Number(values.threads) : undefined,
      device: values.device,
      runs: times.length,
      imgPerSec: (batch * 1000) / mean,
      msPerBatch: mean,
      p50: pct(50),
      p99: pct(99),
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    };
    if (values.json) console.log(JSON.stringify(r));
    else
      console.log(
        `${r.label} batch ${batch} on ${r.device}: ${r.imgPerSec.toFixed(1)} img/s, ${mean.toFixed(2)} ms/batch ` +
          `(p50 ${r.p50.toFixed(2)}, p99 ${r.p99.toFixed(2)} ms, ${r.runs} runs), peak RSS ${r.maxRssMb.toFixed(0)} MB`,
      );
  } finally {
    model.dispose();
  }
}
