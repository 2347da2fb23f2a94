// Hybrid CNN backbones (timm ResNetV2 / ResNet-D, as described by a config's `backbone`): their state_dict keys and
// shapes in timm order, output channels, and output feature size — enough to check a checkpoint and size the ViT.
import { registryError } from './errors.ts';

export type StateDictEntry = [string, number[]];

export interface BackboneInfo {
  entries: StateDictEntry[];
  outChannels: number;
  /** Feature map size for an input of `imgSize`. */
  featSize: [number, number];
}

type Spec = Record<string, unknown>;
const halve = (s: [number, number]): [number, number] => [Math.ceil(s[0] / 2), Math.ceil(s[1] / 2)];

/** timm `make_div(v, 8)`: round to a multiple of 8, never down by more than 10 %. */
function makeDiv(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

function nums(spec: Spec, key: string, fallback?: number[]): number[] {
  const v = spec[key] ?? fallback;
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) {
    throw registryError('VIT_E_ARGUMENT', `backbone.${key} must be an array of integers`);
  }
  return v as number[];
}

function resnetv2(spec: Spec, inChans: number, img: [number, number], p: string): BackboneInfo {
  const layers = nums(spec, 'layers');
  const channels = nums(spec, 'channels', [256, 512, 1024, 2048]);
  const stem = Number(spec.stem_chs ?? 64);
  const out: StateDictEntry[] = [];
  const gn = (k: string, c: number) => out.push([`${k}.weight`, [c]], [`${k}.bias`, [c]]);
  // timm builds just the stem (no `stem.` prefix) when there are no stages (vit_tiny_r_s16_p8_224).
  const sp = layers.length ? `${p}stem.` : p;
  out.push([`${sp}conv.weight`, [stem, inChans, 7, 7]]);
  gn(`${sp}norm`, stem);
  let size = halve(halve(img)); // 7x7/2 conv, 3x3/2 max-pool, both TF 'same'
  let prev = stem;
  layers.forEach((depth, s) => {
    const outCh = channels[s];
    const mid = makeDiv(outCh * 0.25);
    if (s > 0) size = halve(size);
    for (let b = 0; b < depth; b++) {
      const k = `${p}stages.${s}.blocks.${b}`;
      if (b === 0) {
        out.push([`${k}.downsample.conv.weight`, [outCh, prev, 1, 1]]);
        gn(`${k}.downsample.norm`, outCh);
      }
      out.push([`${k}.conv1.weight`, [mid, b === 0 ? prev : outCh, 1, 1]]);
      gn(`${k}.norm1`, mid);
      out.push([`${k}.conv2.weight`, [mid, mid, 3, 3]]);
      gn(`${k}.norm2`, mid);
      out.push([`${k}.conv3.weight`, [outCh, mid, 1, 1]]);
      gn(`${k}.norm3`, outCh);
    }
    prev = outCh;
  });
  return { entries: out, outChannels: prev, featSize: size };
}

function resnet(spec: Spec, inChans: number, img: [number, number], p: string): BackboneInfo {
  if ((spec.block ?? 'bottleneck') !== 'bottleneck') {
    throw registryError('VIT_E_UNSUPPORTED', `backbone.block '${String(spec.block)}' is not supported`, { unsupported: ['backbone.block'] });
  }
  const layers = nums(spec, 'layers');
  const channels = nums(spec, 'channels', [64, 128, 256, 512]);
  const outIndex = Number(spec.out_index ?? layers.length);
  const avgDown = Boolean(spec.avg_down);
  const sw = Number(spec.stem_width ?? 64);
  const out: StateDictEntry[] = [];
  const bn = (k: string, c: number) =>
    out.push([`${k}.weight`, [c]], [`${k}.bias`, [c]], [`${k}.running_mean`, [c]], [`${k}.running_var`, [c]], [`${k}.num_batches_tracked`, []]);
  let inplanes: number;
  if (spec.stem_type === 'deep') {
    out.push([`${p}conv1.0.weight`, [sw, inChans, 3, 3]]);
    bn(`${p}conv1.1`, sw);
    out.push([`${p}conv1.3.weight`, [sw, sw, 3, 3]]);
    bn(`${p}conv1.4`, sw);
    out.push([`${p}conv1.6.weight`, [2 * sw, sw, 3, 3]]);
    inplanes = 2 * sw;
  } else {
    out.push([`${p}conv1.weight`, [sw, inChans, 7, 7]]);
    inplanes = sw;
  }
  bn(`${p}bn1`, inplanes);
  let size = halve(halve(img)); // stride-2 stem conv, 3x3/2 max-pool (padding 1)
  for (let s = 0; s < outIndex; s++) {
    const planes = channels[s];
    const stride = s === 0 ? 1 : 2;
    if (stride === 2) size = halve(size);
    for (let b = 0; b < layers[s]; b++) {
      const k = `${p}layer${s + 1}.${b}`;
      const inCh = b === 0 ? inplanes : planes * 4;
      out.push([`${k}.conv1.weight`, [planes, inCh, 1, 1]]);
      bn(`${k}.bn1`, planes);
      out.push([`${k}.conv2.weight`, [planes, planes, 3, 3]]);
      bn(`${k}.bn2`, planes);
      out.push([`${k}.conv3.weight`, [planes * 4, planes, 1, 1]]);
      bn(`${k}.bn3`, planes * 4);
      if (b === 0 && (stride !== 1 || inplanes !== planes * 4)) {
        const i = avgDown ? 1 : 0; // avg_down: Sequential(pool, conv, bn)
        out.push([`${k}.downsample.${i}.weight`, [planes * 4, inplanes, 1, 1]]);
        bn(`${k}.downsample.${i + 1}`, planes * 4);
      }
    }
    inplanes = planes * 4;
  }
  return { entries: out, outChannels: inplanes, featSize: size };
}

export function backboneInfo(spec: Spec, inChans: number, imgSize: [number, number], prefix = 'patch_embed.backbone.'): BackboneInfo {
  switch (spec.type) {
    case 'resnetv2': return resnetv2(spec, inChans, imgSize, prefix);
    case 'resnet': return resnet(spec, inChans, imgSize, prefix);
    default:
      throw registryError('VIT_E_UNSUPPORTED', `backbone type '${String(spec.type)}' is not supported`, { unsupported: ['backbone.type'] });
  }
}
