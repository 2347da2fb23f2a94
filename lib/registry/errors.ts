// Registry errors: the shared VitError (lib/errors.ts) plus registry details.
import { VitError } from '../errors.ts';

export type RegistryErrorCode = 'VIT_E_UNKNOWN_MODEL' | 'VIT_E_UNSUPPORTED' | 'VIT_E_ARGUMENT';

export interface RegistryErrorDetails {
  /** VIT_E_UNKNOWN_MODEL: closest known names, best first. */
  suggestions?: string[];
  /** VIT_E_UNSUPPORTED: the options that are not supported. */
  unsupported?: string[];
}

export type RegistryError = VitError & RegistryErrorDetails;

export function registryError(code: RegistryErrorCode, message: string, details: RegistryErrorDetails = {}): RegistryError {
  return Object.assign(new VitError(code, message), details);
}
