// vitnode run: the batch job. Reads tensor `input` from a safetensors file, writes the requested outputs under
// the fixture names (logits, features, pre_logits, intermediates.0 ...).
import { existsSync } from 'node:fs';
import { VitError } from '../errors.ts';
import type { OutputName } from '../model.ts';
import { Tensor } from '../tensor.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { deviceOptions, intOpt, parse, usage } from './args.ts';
import { createFromArg } from './images.ts';

const OUTPUTS: OutputName[] = ['logits', 'features', 'pre_logits', 'intermediates'];

export async function runCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    config: { type: 'string' },
    input: { type: 'string' },
    output: { type: 'string' },
    outputs: { type: 'string', default: 'logits' },
    ...deviceOptions,
  });
  if (!values.config || !values.input || !values.output) usage('run needs --config, --input and --output');
  const outputs = values.outputs.split(',').map((s) => s.trim()) as OutputName[];
  const bad = outputs.filter((o) => !OUTPUTS.includes(o));
  if (bad.length) usage(`unknown output(s) ${bad.join(', ')}; choose from ${OUTPUTS.join(', ')}`);
  if (!existsSync(values.input)) throw new VitError('VIT_E_IO', `--input ${values.input}: no such file`);
  const tensors = readSafetensors(values.input);
  const x = tensors.get('input');
  if (!x) usage(`${values.input} has no tensor named 'input' (found: ${[...tensors.keys()].join(', ') || 'none'})`);
  const model = await createFromArg(values.config, {
    checkpoint: values.checkpoint,
    device: values.device,
    dtype: values.dtype as 'float32',
    threads: intOpt(values.threads, 'threads'),
  });
  try {
    const r = await model.run(new Tensor(x.data, x.shape), { outputs });
    const out: [string, Tensor][] = [];
    for (const name of outputs) {
      const v = r[name];
      if (Array.isArray(v)) v.forEach((t, i) => out.push([`intermediates.${i}`, t]));
      else if (v) out.push([name, v]);
    }
    writeSafetensors(values.output, out, { model: model.name, producer: 'vitnode' });
    console.error(`vitnode run: ${model.label} on [${x.shape.join(', ')}] -> ${out.map(([n, t]) => `${n} [${t.shape.join(', ')}]`).join(', ')} in ${values.output}`);
  } finally {
    model.dispose();
  }
}
