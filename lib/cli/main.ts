#!/usr/bin/env node
// vitnode command line: run | describe | list | bench | doctor. Errors: one line on stderr, exit code 1 (2 for usage).
import { VitError } from '../errors.ts';
import { benchCommand } from './bench.ts';
import { convertCommand } from './checkpoint.ts';
import { describeCommand, doctorCommand, listCommand } from './info.ts';
import { runCommand } from './run.ts';
import { classifyCommand, embedCommand, featuresCommand, preprocessCommand } from './images.ts';

const USAGE = `usage: vitnode <command> [options]

  run       --config <name|config.json> [--checkpoint f.safetensors] --input x.safetensors --output y.safetensors
            [--outputs logits,features,pre_logits,intermediates] [--device cpu|cuda[:N]]
            [--dtype float32|float16|bfloat16] [--threads N]
  describe  <name|config.json> [--json]        state_dict keys/shapes and pretrained cfg
  describe  <checkpoint|model dir> [--json]    keys, shapes, dtypes in a .safetensors/.pth/.bin/.npz; which architectures it fits
  convert   <in.pth|in.bin|in.npz|dir> <out.safetensors> [--model <name|config.json> [--num-classes N] [--img-size S] [--in-chans C]]
            timm key rules only (dtypes kept); with --model: timm's whole filter for that model, float32
  list      [pattern]                          registry names (fnmatch pattern, e.g. 'deit_*', 'legacy:*')
  bench     <name|config.json> [--batch B] [--threads T] [--seconds S] [--checkpoint f] [--device d] [--dtype t] [--json]
  doctor                                       which backends work here, and why not
  classify  --model <name|config.json|dir|hf-hub:org/repo> [--checkpoint f] [--top-k 5] [--json] <images or globs...>
  embed     --model <...> [--checkpoint f] (--output emb.safetensors | --json) <images...>
  features  --model <...> [--checkpoint f] [--out-indices 3,6,9,11] [--norm] [--format NCHW|NLC] --output feats.safetensors <images...>
  preprocess (--model <...> | --pretrained-cfg cfg.json) <images...> --output x.safetensors   (tensor 'input': what the model gets)
            image commands also take [--batch-size N] [--device d] [--dtype t] [--threads N]; a file that fails is
            reported and skipped (exit code 1 at the end)`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  run: runCommand,
  describe: describeCommand,
  convert: convertCommand,
  list: listCommand,
  bench: benchCommand,
  doctor: doctorCommand,
  classify: classifyCommand,
  embed: embedCommand,
  features: featuresCommand,
  preprocess: preprocessCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const fn = commands[cmd];
  if (!fn) {
    console.error(`vitnode: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  try {
    await fn(rest);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    const code = e.code ?? (err instanceof VitError ? err.code : undefined);
    const usage = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'VIT_E_USAGE';
    console.error(`vitnode ${cmd}: ${code ? `[${code}] ` : ''}${e.message.split('\n').join(' ')}`);
    return usage ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
