// timm VisionTransformerDistilled (deit.py): a distillation token after the class token and a second head on it;
// logits are the mean of both heads in eval mode.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import type { VitConfig } from './config.ts';
import { Linear } from './layers.ts';
import { paramsOf, type ParamSpec } from './params.ts';
import { VisionTransformer } from './vision-transformer.ts';

export class VisionTransformerDistilled extends VisionTransformer {
  readonly headDist: Linear | null;

  constructor(cfg: VitConfig) {
    super(cfg, { distToken: true });
    this.headDist = cfg.numClasses > 0 ? new Linear('head_dist', this.embedDim, cfg.numClasses) : null;
  }

  override get classifiers(): Linear[] {
    return [...super.classifiers, ...(this.headDist ? [this.headDist] : [])];
  }

  override parameters(): ParamSpec[] {
    return [...super.parameters(), ...paramsOf(this.headDist)];
  }

  /** Class + distillation token. */
  override get headTokens(): number | null {
    return 2;
  }

  override buildHead(g: GraphBuilder, features: Sym): { preLogits: Sym; logits: Sym } {
    const half = { alpha: 0.5, beta: 0.5 };
    const cls = this.pool(g, features, 'token', 0);
    const dist = this.pool(g, features, 'token', 1);
    const preLogits = g.op('add', 'pre_logits', [cls, dist], cls.shape, { attrs: half });
    if (!this.head || !this.headDist) return { preLogits, logits: preLogits };
    const a = this.head.build(g, cls);
    const d = this.headDist.build(g, dist);
    return { preLogits, logits: g.op('add', 'head', [a, d], a.shape, { attrs: half }) };
  }
}
