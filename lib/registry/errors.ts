// Registry errors: plain Errors carrying a stable `code` (and details), the shape the rest of vitnode uses.
// If a shared error class lands in lib/, switch `registryError` to it; callers only rely on `code`.

export type RegistryErrorCode = 'VIT_E_UNKNOWN_MODEL' | 'VIT_E_UNSUPPORTED' | 'VIT_E_INVALID_ARG';

export interface RegistryError extends Error {
  code: RegistryErrorCode;
  /** VIT_E_UNKNOWN_MODEL: closest known names, best first. */
  suggestions?: string[];
  /** VIT_E_UNSUPPORTED: the option names that are not supported. */
  unsupported?: string[];
}

export function registryError(code: RegistryErrorCode, message: string, details: Partial<RegistryError> = {}): RegistryError {
  return Object.assign(new Error(message), { name: 'VitError', code }, details) as RegistryError;
}
