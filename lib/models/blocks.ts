// timm block_fn names -> block classes (vision_transformer.py's Block and its variants).
import { Block } from './block.ts';
import type { BlockArgs, BlockModule } from './factories.ts';
import { ParallelScalingBlock } from './parallel-scaling-block.ts';
import { ParallelThingsBlock } from './parallel-things-block.ts';
import { ResPostBlock } from './res-post-block.ts';

export const BLOCK_FNS: Record<string, (prefix: string, a: BlockArgs) => BlockModule> = {
  Block: (prefix, a) => new Block(prefix, a),
  ResPostBlock: (prefix, a) => new ResPostBlock(prefix, a),
  ParallelThingsBlock: (prefix, a) => new ParallelThingsBlock(prefix, a),
  ParallelScalingBlock: (prefix, a) => new ParallelScalingBlock(prefix, a),
};

export function makeBlock(name: string, prefix: string, a: BlockArgs): BlockModule {
  if (!Object.hasOwn(BLOCK_FNS, name)) throw new Error(`block_fn '${name}' is not built (registry should have refused it)`);
  return BLOCK_FNS[name](prefix, a);
}
