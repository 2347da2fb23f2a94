// timm layers/patch_embed.py PatchEmbed: Conv2d(C -> D, kernel = stride = P) as patchify + GEMM.
import type { GraphBuilder, OpWeights, Sym } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';

export class PatchEmbed {
  readonly prefix = 'patch_embed';
  constructor(
    readonly imgSize: [number, number],
    readonly patchSize: number,
    readonly inChans: number,
    readonly embedDim: number,
    readonly dynamicImgPad: boolean,
    readonly bias = true,
  ) {}

  get gridSize(): [number, number] {
    return [Math.floor(this.imgSize[0] / this.patchSize), Math.floor(this.imgSize[1] / this.patchSize)];
  }

  /** Feature grid for an input of h x w pixels (ceil with dynamic padding). */
  dynamicFeatSize(h: number, w: number): [number, number] {
    const p = this.patchSize;
    return this.dynamicImgPad ? [Math.ceil(h / p), Math.ceil(w / p)] : [Math.floor(h / p), Math.floor(w / p)];
  }

  /** in_chans adaptation applies to the projection. */
  readonly firstConv = 'patch_embed.proj';

  parameters(): ParamSpec[] {
    const p = [param(`${this.prefix}.proj.weight`, [this.embedDim, this.inChans, this.patchSize, this.patchSize], 'trunc_normal')];
    if (this.bias) p.push(param(`${this.prefix}.proj.bias`, [this.embedDim], 'zeros'));
    return p;
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const [b, , h, w] = x.shape;
    const [gh, gw] = this.dynamicFeatSize(h, w);
    const weights: OpWeights['patch_embed'] = { weight: `${this.prefix}.proj.weight` };
    if (this.bias) weights.bias = `${this.prefix}.proj.bias`;
    return g.op('patch_embed', `${this.prefix}.proj`, [x], [b, gh * gw, this.embedDim], {
      weights,
      attrs: { patch: this.patchSize, pad: this.dynamicImgPad ? 1 : 0 },
    });
  }
}
