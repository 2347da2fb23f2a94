// timm ResNet (resnet.py) cut for a hybrid ViT with features_only=True, out_indices=[out_index]: the seed's and
// modern timm's vit_*_resnet26d / resnet50d backbones. Deep stem (conv1.0 3x3/2 -> BN -> ReLU -> conv1.3 3x3 ->
// BN -> ReLU -> conv1.6 3x3), bn1 + ReLU, max-pool 3x3/2 pad 1; layer1..out_index of Bottlenecks (expansion 4,
// stride on conv2) whose shortcut is, for avg_down, AvgPool2d(2, stride, ceil_mode, count_include_pad=False) ->
// conv 1x1 -> BN (`downsample.1` / `.2`). Every BatchNorm is folded into the conv before it.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { BatchNorm2d, Conv2d, pool2d } from './conv-layers.ts';
import { paramsOf, type ParamSpec } from './params.ts';

type Spec = Record<string, unknown>;
type ConvBn = { conv: Conv2d; bn: BatchNorm2d };
const convBn = (conv: Conv2d, bn: string): ConvBn => ({ conv, bn: new BatchNorm2d(bn, conv.outCh) });
const cbParams = (c: ConvBn): ParamSpec[] => paramsOf(c.conv, c.bn);

class Bottleneck {
  readonly c1: ConvBn;
  readonly c2: ConvBn;
  readonly c3: ConvBn;
  readonly downsample: (ConvBn & { pool: number }) | null;
  constructor(p: string, inplanes: number, planes: number, stride: number, avgDown: boolean) {
    const out = planes * 4;
    this.c1 = convBn(new Conv2d(`${p}.conv1`, inplanes, planes, 1), `${p}.bn1`);
    this.c2 = convBn(new Conv2d(`${p}.conv2`, planes, planes, 3, { stride, padding: 1 }), `${p}.bn2`);
    this.c3 = convBn(new Conv2d(`${p}.conv3`, planes, out, 1), `${p}.bn3`);
    this.downsample = null;
    if (stride !== 1 || inplanes !== out) {
      const i = avgDown ? 1 : 0;
      const conv = new Conv2d(`${p}.downsample.${i}`, inplanes, out, 1, { stride: avgDown ? 1 : stride });
      this.downsample = { ...convBn(conv, `${p}.downsample.${i + 1}`), pool: avgDown ? stride : 1 };
    }
  }
  parameters(): ParamSpec[] {
    return [...cbParams(this.c1), ...cbParams(this.c2), ...cbParams(this.c3), ...(this.downsample ? cbParams(this.downsample) : [])];
  }
  build(g: GraphBuilder, x: Sym): Sym {
    let shortcut = x;
    const ds = this.downsample;
    if (ds) {
      const pooled = ds.pool > 1 ? pool2d(g, `${ds.conv.prefix.replace(/\.\d+$/, '.0')}`, x, 'avg', 2, ds.pool, 0, true) : x;
      shortcut = ds.conv.build(g, pooled, { bn: ds.bn });
    }
    let y = this.c1.conv.build(g, x, { bn: this.c1.bn, relu: true });
    y = this.c2.conv.build(g, y, { bn: this.c2.bn, relu: true });
    return this.c3.conv.build(g, y, { bn: this.c3.bn, relu: true, residual: shortcut });
  }
}

export class ResNet {
  readonly stem: ConvBn[];
  readonly blocks: Bottleneck[] = [];
  readonly outChannels: number;
  constructor(spec: Spec, inChans: number, readonly prefix = 'patch_embed.backbone') {
    if ((spec.block ?? 'bottleneck') !== 'bottleneck') throw new Error(`resnet backbone: only bottleneck blocks are built`);
    const layers = spec.layers as number[];
    const channels = (spec.channels as number[]) ?? [64, 128, 256, 512];
    const outIndex = Number(spec.out_index ?? layers.length);
    const avgDown = Boolean(spec.avg_down);
    const sw = Number(spec.stem_width ?? 64);
    const p = prefix;
    let inplanes: number;
    if (spec.stem_type === 'deep') {
      inplanes = 2 * sw;
      this.stem = [
        convBn(new Conv2d(`${p}.conv1.0`, inChans, sw, 3, { stride: 2, padding: 1 }), `${p}.conv1.1`),
        convBn(new Conv2d(`${p}.conv1.3`, sw, sw, 3, { padding: 1 }), `${p}.conv1.4`),
        convBn(new Conv2d(`${p}.conv1.6`, sw, inplanes, 3, { padding: 1 }), `${p}.bn1`),
      ];
    } else {
      inplanes = sw;
      this.stem = [convBn(new Conv2d(`${p}.conv1`, inChans, sw, 7, { stride: 2, padding: 3 }), `${p}.bn1`)];
    }
    for (let s = 0; s < outIndex; s++) {
      const planes = channels[s];
      for (let b = 0; b < layers[s]; b++) {
        this.blocks.push(new Bottleneck(`${p}.layer${s + 1}.${b}`, b === 0 ? inplanes : planes * 4, planes, b === 0 && s > 0 ? 2 : 1, avgDown));
      }
      inplanes = planes * 4;
    }
    this.outChannels = inplanes;
  }
  /** timm order: conv1 (Sequential), bn1, layer1..; within a block conv1, bn1, conv2, bn2, conv3, bn3, downsample. */
  parameters(): ParamSpec[] {
    return [...this.stem.flatMap(cbParams), ...paramsOf(...this.blocks)];
  }
  build(g: GraphBuilder, x: Sym): Sym {
    let y = x;
    for (const c of this.stem) y = c.conv.build(g, y, { bn: c.bn, relu: true });
    y = pool2d(g, `${this.prefix}.maxpool`, y, 'max', 3, 2, 1);
    for (const b of this.blocks) y = b.build(g, y);
    return y;
  }
}
