// Small shared helpers for the CLI commands.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VitError } from '../errors.ts';
import { closestOption } from '../suggest.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs (strict); an unknown flag is a usage error that names the closest known one. */
// eslint-disable-next-line @typescript-eslint/explicit-module-boundary-types
export function parse<T extends Options>(argv: string[], options: T, positionals = false): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-{1,2}[^']*)'/.exec(e.message)?.[1] ?? '';
      const near = closestOption(flag.replace(/^-+/, '').split('=')[0], Object.keys(options));
      usage(`unknown option '${flag}'${near ? `; did you mean --${near}?` : ''} (--help lists the options)`);
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') usage(`${e.message.split('.')[0]} (--help lists the arguments)`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') usage(e.message);
    throw err;
  }
}

export function usage(msg: string): never {
  const e = new VitError('VIT_E_ARGUMENT', msg);
  (e as { code: string }).code = 'VIT_E_USAGE';
  throw e;
}

export function intOpt(v: string | undefined, name: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) usage(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

export const deviceOptions = {
  device: { type: 'string', default: 'cpu' },
  dtype: { type: 'string', default: 'float32' },
  threads: { type: 'string' },
  checkpoint: { type: 'string' },
} as const;
