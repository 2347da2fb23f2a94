#!/usr/bin/env node
// vitnode command line. Errors: the message on stderr (the first line says what went wrong), exit code 1 (2 for
// usage); --verbose adds every problem and the stack. `<command> --help` prints that command's usage.
import { VitError } from '../errors.ts';
import { benchCommand } from './bench.ts';
import { convertCommand } from './checkpoint.ts';
import { describeCommand, doctorCommand, listCommand } from './info.ts';
import { runCommand } from './run.ts';
import { classifyCommand, embedCommand, featuresCommand, preprocessCommand } from './images.ts';

const HELP: Record<string, string> = {
  run: `  run       --config <name|config.json|dir> [--checkpoint f.safetensors] --input x.safetensors --output y.safetensors
            [--outputs logits,features,pre_logits,intermediates] [--device cpu|cuda[:N]]
            [--dtype float32|float16|bfloat16] [--threads N]`,
  describe: `  describe  <name|config.json> [--json]        state_dict keys/shapes and pretrained cfg
  describe  <checkpoint|model dir> [--json]    keys, shapes, dtypes in a .safetensors/.pth/.bin/.npz; what it is; which architectures it fits`,
  convert: `  convert   <in.pth|in.bin|in.npz|dir> <out.safetensors> [--model <name|config.json> [--num-classes N] [--img-size S] [--in-chans C]] [--quiet]
            timm key rules only (dtypes kept); with --model: timm's whole filter for that model, float32`,
  list: `  list      [pattern...]                       registry names (fnmatch pattern, e.g. 'deit_*', 'legacy:*')`,
  bench: `  bench     <name|config.json|dir> [--batch B] [--threads T] [--seconds S] [--checkpoint f] [--device d] [--dtype t] [--json]`,
  doctor: `  doctor    [--json]                           which backends work here (and which build this is), and why not`,
  classify: `  classify  --model <name|config.json|dir|hf-hub:org/repo> [--checkpoint f] [--top-k 5] [--json] <images or globs...>`,
  embed: `  embed     --model <...> [--checkpoint f] (--output emb.safetensors | --json) <images...>`,
  features: `  features  --model <...> [--checkpoint f] [--out-indices 3,6,9,11] [--norm] [--format NCHW|NLC] --output feats.safetensors <images...>
            [--pca out.png [--pca-scale N]]: the first 3 principal components of the last block's patch features
            as RGB, beside the image (several images: out-0.png, out-1.png, ...; --output then optional)`,
  preprocess: `  preprocess (--model <...> | --pretrained-cfg cfg.json) [--no-auto-orient] <images...> --output x.safetensors   (tensor 'input': what the model gets)`,
};
const IMAGE_NOTE = `            image commands also take [--batch-size N] [--device d] [--dtype t] [--threads N]; a file that fails is
            reported and skipped (exit code 1 at the end)`;
const GLOBAL = `  every command: --help, --verbose (every problem of an error, and its stack)`;

const USAGE = `usage: vitnode <command> [options]\n\n${Object.values(HELP).join('\n')}\n${IMAGE_NOTE}\n${GLOBAL}`;
const commandUsage = (cmd: string) =>
  `usage: vitnode ${cmd} [options]\n\n${HELP[cmd]}${['classify', 'embed', 'features'].includes(cmd) ? `\n${IMAGE_NOTE}` : ''}\n${GLOBAL}`;

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

/** A closed stdout (`vitnode classify ... | head -1`) ends the command quietly, as Unix tools do. */
function quietOnClosedPipe(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw err;
    });
  }
}

/** vitnode's own warnings (code VIT_W_*) as 'vitnode: warning: ...'; others as Node prints them. */
function printWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code?.startsWith('VIT_W_')) console.error(`vitnode: warning: ${w.message}`);
    else console.error(`(node:${process.pid}) ${w.code ? `[${w.code}] ` : ''}${w.name}: ${w.message}`);
  });
}

function printError(cmd: string, err: unknown, verbose: boolean): boolean {
  const e = err as Error & { code?: string; problems?: string[] };
  const code = e.code ?? (err instanceof VitError ? err.code : undefined);
  const lines = String(e.message ?? err).split('\n');
  if (verbose && Array.isArray(e.problems)) lines.splice(1, lines.length, `${e.problems.length} problems:`, ...e.problems.map((p) => `  ${p}`));
  console.error(`vitnode ${cmd}: ${code ? `[${code}] ` : ''}${lines.join('\n')}`);
  if (verbose && e.stack) console.error(e.stack.split('\n').filter((l) => /^\s+at /.test(l)).join('\n'));
  return code === 'VIT_E_USAGE';
}

async function main(argv: string[]): Promise<number> {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  const verbose = head.includes('--verbose');
  const args = verbose ? argv.filter((a, i) => a !== '--verbose' || (end >= 0 && i > end)) : argv;
  const [cmd, ...rest] = args;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const topic = cmd === 'help' && rest[0] && HELP[rest[0]] ? commandUsage(rest[0]) : USAGE;
    console.log(topic);
    return cmd ? 0 : 2;
  }
  const fn = commands[cmd];
  if (!fn) {
    console.error(`vitnode: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  const restEnd = rest.indexOf('--');
  if ((restEnd < 0 ? rest : rest.slice(0, restEnd)).some((a) => a === '--help' || a === '-h')) {
    console.log(commandUsage(cmd));
    return 0;
  }
  try {
    await fn(rest);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return printError(cmd, err, verbose) ? 2 : 1;
  }
}

quietOnClosedPipe();
printWarnings();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
