// timm's CNN layers for hybrid backbones, named by state_dict prefix: Conv2d / StdConv2dSame (layers/std_conv.py,
// layers/padding.py TF 'same' padding), BatchNorm2d (folded into the conv before it when weights load),
// GroupNormAct (layers/norm_act.py), max / avg pooling (layers/pool2d_same.py, nn.MaxPool2d, nn.AvgPool2d).
import type { GraphBuilder, OpWeights, Sym } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';

/** TF 'same' padding along one axis (timm get_same_padding): [before, after]. */
export function samePadding(size: number, k: number, s: number, d = 1): [number, number] {
  const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Weight standardisation: 'legacy' = timm 0.4.5 (w - mean) / (std + eps); 'modern' = (w - mean) / sqrt(var + eps). */
export type StdMode = 'none' | 'legacy' | 'modern';
const WS = { none: 0, legacy: 1, modern: 2 } as const;

export class BatchNorm2d {
  constructor(
    readonly prefix: string,
    readonly channels: number,
    readonly eps = 1e-5,
  ) {}
  parameters(): ParamSpec[] {
    const c = this.channels;
    const k = this.prefix;
    return [
      param(`${k}.weight`, [c], 'ones'), param(`${k}.bias`, [c], 'zeros'), param(`${k}.running_mean`, [c], 'zeros'),
      param(`${k}.running_var`, [c], 'ones'), param(`${k}.num_batches_tracked`, [], 'zeros'),
    ];
  }
}

export interface ConvOptions {
  stride?: number;
  dilation?: number;
  /** 'same' = TF dynamic padding (Conv2dSame / StdConv2dSame); a number = symmetric zero padding. */
  padding?: 'same' | number;
  bias?: boolean;
  std?: StdMode;
  stdEps?: number;
}

export class Conv2d {
  readonly stride: number;
  readonly dilation: number;
  readonly padding: 'same' | number;
  readonly bias: boolean;
  readonly std: StdMode;
  readonly stdEps: number;
  constructor(
    readonly prefix: string,
    readonly inCh: number,
    readonly outCh: number,
    readonly kernel: number,
    o: ConvOptions = {},
  ) {
    this.stride = o.stride ?? 1;
    this.dilation = o.dilation ?? 1;
    this.padding = o.padding ?? 0;
    this.bias = o.bias ?? false;
    this.std = o.std ?? 'none';
    this.stdEps = o.stdEps ?? 1e-5;
  }

  parameters(): ParamSpec[] {
    const p = [param(`${this.prefix}.weight`, [this.outCh, this.inCh, this.kernel, this.kernel], 'kaiming_fan_out')];
    if (this.bias) p.push(param(`${this.prefix}.bias`, [this.outCh], 'zeros'));
    return p;
  }

  /** y = act(bn(conv(x)) + residual), one native conv2d (BatchNorm folded into the weights at load). */
  build(g: GraphBuilder, x: Sym, o: { bn?: BatchNorm2d; relu?: boolean; residual?: Sym } = {}): Sym {
    const [b, , h, w] = x.shape;
    const { kernel: k, stride: s, dilation: d } = this;
    const [pt, pb] = this.padding === 'same' ? samePadding(h, k, s, d) : [this.padding, this.padding];
    const [pl, pr] = this.padding === 'same' ? samePadding(w, k, s, d) : [this.padding, this.padding];
    const out = (n: number, p0: number, p1: number) => Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;
    const weights: OpWeights['conv2d'] = { weight: `${this.prefix}.weight` };
    if (this.bias) weights.bias = `${this.prefix}.bias`;
    const attrs: Record<string, number> = { stride: s, dilation: d, pad_t: pt, pad_l: pl, pad_b: pb, pad_r: pr, act: o.relu ? 1 : 0 };
    if (this.std !== 'none') Object.assign(attrs, { ws: WS[this.std], ws_eps: this.stdEps });
    if (o.bn) {
      const p = o.bn.prefix;
      Object.assign(weights, { bn_weight: `${p}.weight`, bn_bias: `${p}.bias`, bn_mean: `${p}.running_mean`, bn_var: `${p}.running_var` });
      attrs.bn_eps = o.bn.eps;
    }
    const inputs = o.residual ? [x, o.residual] : [x];
    return g.op('conv2d', o.bn ? `${this.prefix}+${o.bn.prefix}` : this.prefix, inputs, [b, this.outCh, out(h, pt, pb), out(w, pl, pr)], { weights, attrs });
  }
}

/** timm GroupNormAct: GroupNorm, then (optionally) the residual add and ReLU fused in. */
export class GroupNormAct {
  constructor(
    readonly prefix: string,
    readonly channels: number,
    readonly groups: number,
    readonly relu: boolean,
    readonly eps = 1e-5,
  ) {}
  parameters(): ParamSpec[] {
    return [param(`${this.prefix}.weight`, [this.channels], 'ones'), param(`${this.prefix}.bias`, [this.channels], 'zeros')];
  }
  /** act(gn(x) + residual); `relu` overrides the module's own activation (the block's act3 after the add). */
  build(g: GraphBuilder, x: Sym, o: { residual?: Sym; relu?: boolean } = {}): Sym {
    return g.op('group_norm', this.prefix, o.residual ? [x, o.residual] : [x], x.shape, {
      weights: { weight: `${this.prefix}.weight`, bias: `${this.prefix}.bias` },
      attrs: { groups: this.groups, eps: this.eps, act: (o.relu ?? this.relu) ? 1 : 0 },
    });
  }
}

/** Max / avg pooling with explicit padding ('same' = TF dynamic padding; max pads with -inf). */
export function pool2d(
  g: GraphBuilder,
  name: string,
  x: Sym,
  kind: 'max' | 'avg',
  k: number,
  s: number,
  padding: 'same' | number,
  ceilMode = false,
): Sym {
  const [b, c, h, w] = x.shape;
  const [pt, pb] = padding === 'same' ? samePadding(h, k, s) : [padding, padding];
  const [pl, pr] = padding === 'same' ? samePadding(w, k, s) : [padding, padding];
  const out = (n: number, p0: number, p1: number) => {
    const span = n + p0 + p1 - k;
    let o = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceilMode && (o - 1) * s >= n + p0) o--;
    return o;
  };
  return g.op(kind === 'max' ? 'max_pool2d' : 'avg_pool2d', name, [x], [b, c, out(h, pt, pb), out(w, pl, pr)], {
    attrs: { kernel: k, stride: s, pad_t: pt, pad_l: pl, pad_b: pb, pad_r: pr, ceil_mode: ceilMode ? 1 : 0 },
  });
}
