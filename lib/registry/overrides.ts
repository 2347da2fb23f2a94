// createModel's model options: each is one timm create_model kwarg, applied as model_args on top of the
// architecture's (the same path as a config.json's model_args). The one table of them.
import { registryError } from './errors.ts';

export const OVERRIDE_ARGS = {
  numClasses: 'num_classes',
  imgSize: 'img_size',
  inChans: 'in_chans',
  globalPool: 'global_pool',
  dynamicImgSize: 'dynamic_img_size',
  dynamicImgPad: 'dynamic_img_pad',
  actLayer: 'act_layer',
} as const;

export type OverrideName = keyof typeof OVERRIDE_ARGS;

/** The overrides that are set, as timm kwargs; unknown names throw. */
export function overridesToModelArgs(o: Record<string, unknown>): Record<string, unknown> {
  const extra = Object.keys(o).filter((k) => !Object.hasOwn(OVERRIDE_ARGS, k));
  if (extra.length) throw registryError('VIT_E_ARGUMENT', `unknown option(s): ${extra.join(', ')}`);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) args[OVERRIDE_ARGS[k as OverrideName]] = v;
  return args;
}

/** Picks the override options out of a larger options object (createModel's). */
export function pickOverrides(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(OVERRIDE_ARGS)) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
