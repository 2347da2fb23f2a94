// timm HybridEmbed (layers/hybrid_embed.py; seed vision_transformer.py@v0.4.5): CNN backbone -> feature map ->
// proj Conv2d(C_feat -> D, kernel = stride = patch size; 1x1 for every seed hybrid) -> tokens. The projection
// reuses the patch_embed op (patchify + GEMM). Feature reduction = backbone stride x patch size.
import { GraphBuilder, type Sym } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';
import { ResNet } from './resnet.ts';
import { ResNetV2 } from './resnetv2.ts';

export class HybridEmbed {
  readonly prefix = 'patch_embed';
  readonly backbone: ResNetV2 | ResNet;
  constructor(
    backbone: Record<string, unknown>,
    readonly era: 'modern' | 'legacy',
    readonly imgSize: [number, number],
    readonly patchSize: number,
    readonly inChans: number,
    readonly embedDim: number,
    readonly dynamicImgPad: boolean,
  ) {
    const p = `${this.prefix}.backbone`;
    if (backbone.type === 'resnetv2') this.backbone = new ResNetV2(backbone, inChans, era, p);
    else if (backbone.type === 'resnet') this.backbone = new ResNet(backbone, inChans, p);
    else throw new Error(`backbone type '${String(backbone.type)}' is not built`);
  }

  /** The backbone's first conv (timm pretrained cfg `first_conv`), where in_chans adaptation applies. */
  get firstConv(): string {
    return this.backbone instanceof ResNetV2 ? this.backbone.stemConv.prefix : this.backbone.stem[0].conv.prefix;
  }

  /** Backbone output [C, h, w] for an h x w input (from a dry build: the padding rules live in one place). */
  backboneShape(h: number, w: number): readonly number[] {
    const key = `${h}x${w}`;
    let s = this.shapes.get(key);
    if (!s) {
      const g = new GraphBuilder();
      s = this.backbone.build(g, g.input([1, this.inChans, h, w])).shape.slice(1);
      this.shapes.set(key, s);
    }
    return s;
  }
  private shapes = new Map<string, readonly number[]>();

  get gridSize(): [number, number] {
    const [, fh, fw] = this.backboneShape(...this.imgSize);
    return [Math.floor(fh / this.patchSize), Math.floor(fw / this.patchSize)];
  }

  /** Token grid for an h x w input (ceil with dynamic padding of the feature map). */
  dynamicFeatSize(h: number, w: number): [number, number] {
    const [, fh, fw] = this.backboneShape(h, w);
    const p = this.patchSize;
    return this.dynamicImgPad ? [Math.ceil(fh / p), Math.ceil(fw / p)] : [Math.floor(fh / p), Math.floor(fw / p)];
  }

  /** Input pixels per token along each axis (timm feat_ratio x patch size). */
  get reduction(): number {
    const [, fh] = this.backboneShape(...this.imgSize);
    return Math.round(this.imgSize[0] / fh) * this.patchSize;
  }

  parameters(): ParamSpec[] {
    const c = this.backbone.outChannels;
    return [
      ...this.backbone.parameters(),
      param(`${this.prefix}.proj.weight`, [this.embedDim, c, this.patchSize, this.patchSize], 'trunc_normal'),
      param(`${this.prefix}.proj.bias`, [this.embedDim], 'zeros'),
    ];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const f = this.backbone.build(g, x);
    const [b, , fh, fw] = f.shape;
    const p = this.patchSize;
    const [gh, gw] = this.dynamicImgPad ? [Math.ceil(fh / p), Math.ceil(fw / p)] : [Math.floor(fh / p), Math.floor(fw / p)];
    return g.op('patch_embed', `${this.prefix}.proj`, [f], [b, gh * gw, this.embedDim], {
      weights: { weight: `${this.prefix}.proj.weight`, bias: `${this.prefix}.proj.bias` },
      attrs: { patch: p, pad: this.dynamicImgPad ? 1 : 0 },
    });
  }
}
