// Which prefix tokens a ViT carries and what its position embedding covers: the one place that knows the token
// layout (timm VisionTransformer._pos_embed; VisionTransformerDistilled adds dist_token after the class token).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';

export class TokenLayout {
  constructor(
    readonly classToken: boolean,
    readonly regTokens: number,
    readonly distToken: boolean,
    /** pos_embed covers the patch tokens only and is added before the prefix tokens are prepended. */
    readonly noEmbedClass: boolean,
    /** A learned absolute position embedding (timm pos_embed='learn'); false = none. */
    readonly posEmbed = true,
  ) {}

  /** Tokens before the patch tokens: class, registers, distillation (timm num_prefix_tokens). */
  get numPrefixTokens(): number {
    return (this.classToken ? 1 : 0) + this.regTokens + (this.distToken ? 1 : 0);
  }

  /** Prefix tokens pos_embed has rows for. */
  get posPrefixTokens(): number {
    return this.noEmbedClass ? 0 : this.numPrefixTokens;
  }

  posEmbedLen(grid: readonly [number, number]): number {
    return grid[0] * grid[1] + this.posPrefixTokens;
  }

  /** The model's own parameters in timm's registration order: cls_token, reg_token, pos_embed, dist_token. */
  parameters(dim: number, grid: readonly [number, number]): ParamSpec[] {
    const p: ParamSpec[] = [];
    if (this.classToken) p.push(param('cls_token', [1, 1, dim], 'trunc_normal'));
    if (this.regTokens) p.push(param('reg_token', [1, this.regTokens, dim], 'trunc_normal'));
    if (this.posEmbed) p.push(param('pos_embed', [1, this.posEmbedLen(grid), dim], 'trunc_normal'));
    if (this.distToken) p.push(param('dist_token', [1, 1, dim], 'trunc_normal'));
    return p;
  }

  /**
   * Patch tokens [B, N, D] -> prefix tokens + patch tokens with the position embedding added (before the concat
   * with noEmbedClass, after it otherwise).
   */
  build(g: GraphBuilder, patches: Sym, pos: Sym | null): Sym {
    const [b, n, d] = patches.shape;
    const prefix: Sym[] = [];
    if (this.classToken) prefix.push(g.weight('cls_token', [1, 1, d]));
    if (this.regTokens) prefix.push(g.weight('reg_token', [1, this.regTokens, d]));
    if (this.distToken) prefix.push(g.weight('dist_token', [1, 1, d]));
    const concat = (s: Sym) =>
      prefix.length ? g.op('concat_prefix', 'prefix', [s, ...prefix], [b, n + this.numPrefixTokens, d]) : s;
    if (!pos) return concat(patches);
    if (this.noEmbedClass) return concat(g.op('add', 'pos_embed', [patches, pos], patches.shape));
    const t = concat(patches);
    return g.op('add', 'pos_embed', [t, pos], t.shape);
  }

  /**
   * Patch tokens -> the embedded sequence: pos_embed (trained on `baseGrid`, bicubic-resampled to `grid` when they
   * differ and `dynamic`, as timm's dynamic_img_size does) and the prefix tokens.
   */
  embed(g: GraphBuilder, patches: Sym, baseGrid: readonly [number, number], grid: readonly [number, number], dynamic: boolean): Sym {
    if (!this.posEmbed) return this.build(g, patches, null);
    const D = patches.shape[2];
    const [bh, bw] = baseGrid;
    const [gh, gw] = grid;
    let pos = g.weight('pos_embed', [1, this.posEmbedLen(baseGrid), D]);
    if (dynamic && (gh !== bh || gw !== bw)) {
      const prefix = this.posPrefixTokens;
      pos = g.op('pos_resample', 'pos_embed', [pos], [1, prefix + gh * gw, D], {
        attrs: { prefix, old_h: bh, old_w: bw, h: gh, w: gw, mode: 1 },
      });
    }
    return this.build(g, patches, pos);
  }
}
