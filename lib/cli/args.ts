// Small shared helpers for the CLI commands.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VitError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

// eslint-disable-next-line @typescript-eslint/explicit-module-boundary-types
export function parse<T extends Options>(argv: string[], options: T, positionals = false): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
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
