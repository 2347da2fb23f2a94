// vitnode describe | list | doctor.
import { existsSync } from 'node:fs';
import { backends } from '../backends.ts';
import { resolveSource } from '../create-model.ts';
import { createModelModule } from '../models/index.ts';
import { checkSupported, listModels } from '../registry/index.ts';
import { parse, usage } from './args.ts';
import { describeCheckpoint } from './checkpoint.ts';

/** A weights file or model folder (anything on disk but a config.json). */
const isCheckpointPath = (p: string) => !p.endsWith('.json') && existsSync(p);

export async function describeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean', default: false } }, true);
  if (positionals.length !== 1) usage('describe takes one model name, config.json path or checkpoint path');
  if (isCheckpointPath(positionals[0])) return describeCheckpoint(positionals[0], values.json);
  const resolved = resolveSource(positionals[0]);
  checkSupported(resolved.config);
  const stateDict = createModelModule(resolved.config).params();
  if (values.json) {
    console.log(JSON.stringify({ name: resolved.name, state_dict: stateDict, pretrained_cfg: resolved.pretrainedCfg }));
    return;
  }
  const params = stateDict.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  console.log(`${resolved.name}${resolved.tag ? ` (tag ${resolved.tag})` : ''}: ${stateDict.length} tensors, ${params.toLocaleString('en-US')} parameters`);
  for (const [k, s] of stateDict) console.log(`  ${k.padEnd(40)} [${s.join(', ')}]`);
  console.log(`pretrained_cfg: ${JSON.stringify(resolved.pretrainedCfg)}`);
}

export async function listCommand(argv: string[]): Promise<void> {
  const { positionals } = parse(argv, {}, true);
  for (const n of listModels(positionals.length ? positionals : '*')) console.log(n);
}

export async function doctorCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { json: { type: 'boolean', default: false } });
  const b = backends();
  if (values.json) {
    console.log(JSON.stringify(b));
    return;
  }
  console.log(`cpu:  available (${b.cpu.cores} cores, GEMM: ${b.cpu.gemm})`);
  if (b.cuda.available) console.log(`cuda: available (${b.cuda.deviceCount} device(s): ${b.cuda.devices.join('; ')})`);
  else console.log(`cuda: unavailable: ${b.cuda.reason}`);
}
