// One error shape for everything vitnode throws or rejects with: an Error with a stable `code`.
export type VitErrorCode =
  | 'VIT_E_ARGUMENT'
  | 'VIT_E_SHAPE'
  | 'VIT_E_DTYPE'
  | 'VIT_E_CHECKPOINT'
  | 'VIT_E_UNKNOWN_MODEL'
  | 'VIT_E_UNSUPPORTED'
  | 'VIT_E_DISPOSED'
  | 'VIT_E_CUDA'
  | 'VIT_E_OOM'
  | 'VIT_E_IO'
  | 'VIT_E_NETWORK'
  | 'VIT_E_AUTH'
  | 'VIT_E_NOT_FOUND'
  | 'VIT_E_IMAGE'
  | 'VIT_E_OVERLOADED'
  | 'VIT_E_TIMEOUT'
  | 'VIT_E_ABORTED'
  | 'VIT_E_CLOSED'
  | 'VIT_E_INTERNAL';

export class VitError extends Error {
  readonly code: VitErrorCode;
  constructor(code: VitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VitError';
    this.code = code;
  }
}

/** Re-throws a native error as a VitError with the caller's stack attached (native stacks say nothing). */
export function nativeError(err: unknown, callerStack?: string): VitError {
  if (err instanceof VitError) return err;
  const e = err as { code?: string; message?: string };
  const code = (typeof e?.code === 'string' && e.code.startsWith('VIT_E_') ? e.code : 'VIT_E_INTERNAL') as VitErrorCode;
  const out = new VitError(code, e?.message ?? String(err), { cause: err });
  if (callerStack) out.stack = `${out.name}: ${out.message}\n${callerStack.split('\n').slice(1).join('\n')}`;
  return out;
}
