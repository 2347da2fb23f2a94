// timm's state_dict (keys and shapes, in timm's order) for a VitConfig: what `vitnode describe` prints and what a
// checkpoint must contain. Order = parameters registered on the model itself (cls_token, reg/dist tokens,
// pos_embed), then submodules in registration order (patch_embed, blocks, norm, fc_norm, pre_logits, head, head_dist).
import type { VitConfig } from '../models/config.ts';
import { backboneInfo, type StateDictEntry } from './backbone-state-dict.ts';
import { registryError } from './errors.ts';

export type { StateDictEntry };

/** Throws VIT_E_UNSUPPORTED when the config uses options vitnode does not implement yet. */
export function checkSupported(config: VitConfig): void {
  if (config.unsupported.length) {
    throw registryError('VIT_E_UNSUPPORTED',
      `not supported yet: ${config.unsupported.join(', ')} (this ViT family needs options vitnode does not implement yet)`,
      { unsupported: [...config.unsupported] });
  }
}

/** Whether the final `norm` is replaced by `fc_norm` after pooling (timm: fc_norm=None -> on for avg/max/avgmax). */
export function usesFcNorm(config: VitConfig): boolean {
  if (config.era === 'legacy') return false;
  return config.fcNorm ?? ['avg', 'max', 'avgmax'].includes(config.globalPool);
}

/** Patch grid of the token sequence, and the channels entering the patch projection. */
export function patchGrid(config: VitConfig): { grid: [number, number]; projIn: number; backbone: StateDictEntry[] } {
  let size = config.imgSize;
  let projIn = config.inChans;
  let backbone: StateDictEntry[] = [];
  if (config.backbone) {
    const info = backboneInfo(config.backbone, config.inChans, config.imgSize);
    ({ featSize: size, outChannels: projIn, entries: backbone } = info);
  }
  const p = config.patchSize;
  return { grid: [Math.floor(size[0] / p), Math.floor(size[1] / p)], projIn, backbone };
}

export function expectedStateDict(config: VitConfig): StateDictEntry[] {
  checkSupported(config);
  const D = config.embedDim;
  const P = config.patchSize;
  const { grid, projIn, backbone } = patchGrid(config);
  const prefix = (config.classToken ? 1 : 0) + (config.distilled ? 1 : 0);
  const posTokens = grid[0] * grid[1] + (config.noEmbedClass ? 0 : prefix);
  const out: StateDictEntry[] = [];
  const ln = (k: string) => out.push([`${k}.weight`, [D]], [`${k}.bias`, [D]]);
  const linear = (k: string, o: number, i: number, bias = true) => {
    out.push([`${k}.weight`, [o, i]]);
    if (bias) out.push([`${k}.bias`, [o]]);
  };

  if (config.classToken) out.push(['cls_token', [1, 1, D]]);
  out.push(['pos_embed', [1, posTokens, D]]);
  if (config.distilled) out.push(['dist_token', [1, 1, D]]);
  out.push(...backbone);
  out.push(['patch_embed.proj.weight', [D, projIn, P, P]], ['patch_embed.proj.bias', [D]]);

  const hidden = Math.floor(D * config.mlpRatio);
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    ln(`${b}.norm1`);
    linear(`${b}.attn.qkv`, 3 * D, D, config.qkvBias);
    linear(`${b}.attn.proj`, D, D);
    if (config.initValues) out.push([`${b}.ls1.gamma`, [D]]);
    ln(`${b}.norm2`);
    linear(`${b}.mlp.fc1`, hidden, D);
    linear(`${b}.mlp.fc2`, D, hidden);
    if (config.initValues) out.push([`${b}.ls2.gamma`, [D]]);
  }

  if (usesFcNorm(config)) ln('fc_norm');
  else ln('norm');
  let features = D;
  if (config.representationSize) {
    linear('pre_logits.fc', config.representationSize, D);
    features = config.representationSize;
  }
  if (config.numClasses > 0) {
    linear('head', config.numClasses, features);
    if (config.distilled) linear('head_dist', config.numClasses, D);
  }
  return out;
}

/** Number of learnable parameters (BatchNorm running statistics are buffers, not parameters). */
export function countParams(entries: StateDictEntry[]): number {
  const buffer = /\.(running_mean|running_var|num_batches_tracked)$/;
  return entries.reduce((n, [k, s]) => (buffer.test(k) ? n : n + s.reduce((a, b) => a * b, 1)), 0);
}
