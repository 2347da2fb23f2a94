// timm ResNetV2 as the hybrid ViTs build it (resnetv2.py; vision_transformer_hybrid.py `_resnetv2`; seed
// vision_transformer.py@v0.4.5): preact=False, stem_type 'same', StdConv2dSame, GroupNormAct(32), no head.
// Stem: conv 7x7/2 -> GN+ReLU -> max-pool 3x3/2 ('same', -inf). Stages of non-pre-activation Bottlenecks:
// conv1 1x1 -> GN+ReLU -> conv2 3x3/stride -> GN+ReLU -> conv3 1x1 -> GN -> + shortcut -> ReLU, the shortcut of
// block 0 being downsample.conv 1x1/stride -> downsample.norm (GN). Layers [] = the stem alone, without the
// `stem.` prefix (vit_tiny_r_s16_p8_224).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Conv2d, GroupNormAct, pool2d, type StdMode } from './conv-layers.ts';
import { paramsOf, type ParamSpec } from './params.ts';

type Spec = Record<string, unknown>;

/** timm make_div(v, 8). */
function makeDiv(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

class Bottleneck {
  readonly downsample: { conv: Conv2d; norm: GroupNormAct } | null;
  readonly conv1: Conv2d;
  readonly norm1: GroupNormAct;
  readonly conv2: Conv2d;
  readonly norm2: GroupNormAct;
  readonly conv3: Conv2d;
  readonly norm3: GroupNormAct;
  constructor(p: string, inCh: number, outCh: number, stride: number, groups: number, std: StdMode, stdEps: number, shortcut: boolean) {
    const mid = makeDiv(outCh * 0.25);
    const conv = (k: string, i: number, o: number, kernel: number, s = 1) => new Conv2d(`${p}.${k}`, i, o, kernel, { stride: s, padding: 'same', std, stdEps });
    this.downsample = shortcut ? { conv: conv('downsample.conv', inCh, outCh, 1, stride), norm: new GroupNormAct(`${p}.downsample.norm`, outCh, groups, false) } : null;
    this.conv1 = conv('conv1', inCh, mid, 1);
    this.norm1 = new GroupNormAct(`${p}.norm1`, mid, groups, true);
    this.conv2 = conv('conv2', mid, mid, 3, stride);
    this.norm2 = new GroupNormAct(`${p}.norm2`, mid, groups, true);
    this.conv3 = conv('conv3', mid, outCh, 1);
    this.norm3 = new GroupNormAct(`${p}.norm3`, outCh, groups, false);
  }
  parameters(): ParamSpec[] {
    return paramsOf(this.downsample?.conv, this.downsample?.norm, this.conv1, this.norm1, this.conv2, this.norm2, this.conv3, this.norm3);
  }
  build(g: GraphBuilder, x: Sym): Sym {
    const shortcut = this.downsample ? this.downsample.norm.build(g, this.downsample.conv.build(g, x)) : x;
    let y = this.norm1.build(g, this.conv1.build(g, x));
    y = this.norm2.build(g, this.conv2.build(g, y));
    return this.norm3.build(g, this.conv3.build(g, y), { residual: shortcut, relu: true });
  }
}

export class ResNetV2 {
  readonly stemConv: Conv2d;
  readonly stemNorm: GroupNormAct;
  readonly blocks: Bottleneck[] = [];
  readonly outChannels: number;
  constructor(spec: Spec, inChans: number, era: 'modern' | 'legacy', readonly prefix = 'patch_embed.backbone') {
    if ((spec.stem_type ?? 'same') !== 'same' || spec.preact === true || (spec.conv ?? 'std_conv2d_same') !== 'std_conv2d_same') {
      throw new Error(`resnetv2 backbone: only stem_type 'same', preact false, conv 'std_conv2d_same' are built`);
    }
    const layers = (spec.layers as number[]) ?? [];
    const channels = (spec.channels as number[]) ?? [256, 512, 1024, 2048];
    const stemChs = Number(spec.stem_chs ?? 64);
    const groups = Number(spec.num_groups ?? 32);
    // timm 0.4.5: (w - mean) / (std + 1e-5); timm >= 0.4.12 hybrids: (w - mean) / sqrt(var + 1e-8) (spec §0 item 2)
    const std: StdMode = era === 'legacy' ? 'legacy' : 'modern';
    const stdEps = era === 'legacy' ? 1e-5 : 1e-8;
    const sp = layers.length ? `${prefix}.stem` : prefix;
    this.stemConv = new Conv2d(`${sp}.conv`, inChans, stemChs, 7, { stride: 2, padding: 'same', std, stdEps });
    this.stemNorm = new GroupNormAct(`${sp}.norm`, stemChs, groups, true);
    let prev = stemChs;
    layers.forEach((depth, s) => {
      for (let b = 0; b < depth; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        this.blocks.push(new Bottleneck(`${prefix}.stages.${s}.blocks.${b}`, b === 0 ? prev : channels[s], channels[s], stride, groups, std, stdEps, b === 0));
      }
      prev = channels[s];
    });
    this.outChannels = prev;
  }
  parameters(): ParamSpec[] {
    return paramsOf(this.stemConv, this.stemNorm, ...this.blocks);
  }
  build(g: GraphBuilder, x: Sym): Sym {
    let y = this.stemNorm.build(g, this.stemConv.build(g, x));
    y = pool2d(g, `${this.stemConv.prefix.replace(/\.conv$/, '')}.pool`, y, 'max', 3, 2, 'same');
    for (const b of this.blocks) y = b.build(g, y);
    return y;
  }
}
