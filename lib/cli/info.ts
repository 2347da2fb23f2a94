// vitnode describe | list | doctor.
import { existsSync } from 'node:fs';
import { backends } from '../backends.ts';
import { checkSourcePath, resolveSource } from '../create-model.ts';
import { createModelModule } from '../models/index.ts';
import { customArgs, originLabel } from '../origin.ts';
import { checkSupported, listModels, resolveModel } from '../registry/index.ts';
import { parse, usage } from './args.ts';
import { describeCheckpoint } from './checkpoint.ts';

/** A weights file or model folder (anything on disk but a config.json). */
const isCheckpointPath = (p: string) => !p.endsWith('.json') && existsSync(p);

export async function describeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean', default: false } }, true);
  if (positionals.length !== 1) usage('describe takes one model name, config.json path or checkpoint path');
  const [src] = positionals;
  if (isCheckpointPath(src)) return describeCheckpoint(src, values.json);
  checkSourcePath(src, 'to describe');
  const resolved = resolveSource(src);
  checkSupported(resolved.config);
  const stateDict = createModelModule(resolved.config).params();
  const fromConfig = src.endsWith('.json');
  const custom = fromConfig ? customArgs(resolved.config, resolveModel(resolved.name).config) : [];
  if (values.json) {
    console.log(JSON.stringify({ name: resolved.name, source: src, custom_model_args: custom, state_dict: stateDict, pretrained_cfg: resolved.pretrainedCfg }));
    return;
  }
  const params = stateDict.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const label = fromConfig ? originLabel(resolved.name, { kind: 'config', ref: src, customArgs: custom, checkpoint: 'n/a', tag: null }) : resolved.name;
  console.log(`${label}: ${stateDict.length} tensors, ${params.toLocaleString('en-US')} parameters`);
  for (const [k, s] of stateDict) console.log(`  ${k.padEnd(40)} [${s.join(', ')}]`);
  const cfgFrom = fromConfig ? (resolved.tag ? `the config's, tag ${resolved.tag}` : "the config's") : resolved.tag ? `tag ${resolved.tag}` : 'timm 0.4.5 default_cfg';
  console.log(`pretrained_cfg (${cfgFrom}): ${JSON.stringify(resolved.pretrainedCfg)}`);
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
  console.log(`build: ${b.build.description}`);
  console.log(`cpu:   available (${b.cpu.cores} cores, GEMM: ${b.cpu.gemm})`);
  if (b.cuda.available) console.log(`cuda:  available (${b.cuda.deviceCount} device(s): ${b.cuda.devices.join('; ')})`);
  else console.log(`cuda:  unavailable: ${b.cuda.reason}`);
}
