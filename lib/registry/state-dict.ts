// timm's state_dict for a config (what `vitnode describe` prints and a checkpoint must contain): the module tree's
// parameters, the only source of keys and shapes.
import type { VitConfig } from '../models/config.ts';
import { createModelModule } from '../models/index.ts';
import type { Param } from '../models/params.ts';
import { registryError } from './errors.ts';

export type StateDictEntry = Param;

/** Throws VIT_E_UNSUPPORTED when the config uses options vitnode does not implement yet. */
export function checkSupported(config: VitConfig): void {
  if (config.unsupported.length) {
    throw registryError('VIT_E_UNSUPPORTED',
      `not supported yet: ${config.unsupported.join(', ')} (this ViT family needs options vitnode does not implement yet)`,
      { unsupported: [...config.unsupported] });
  }
}

export function expectedStateDict(config: VitConfig): StateDictEntry[] {
  checkSupported(config);
  return createModelModule(config).params();
}

/** Number of learnable parameters (BatchNorm running statistics are buffers, not parameters). */
export function countParams(entries: StateDictEntry[]): number {
  const buffer = /\.(running_mean|running_var|num_batches_tracked)$/;
  return entries.reduce((n, [k, s]) => (buffer.test(k) ? n : n + s.reduce((a, b) => a * b, 1)), 0);
}
