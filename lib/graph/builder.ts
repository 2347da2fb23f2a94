// Symbolic graph construction: modules call these methods with symbolic tensors; the finished spec crosses
// into native code once per model and input shape.
import type { GraphNodeSpec, GraphSpec } from '../binding.ts';
import { fuseEpilogues } from './fuse.ts';
import type { OpAttrs, OpName, OpWeights } from './ops.generated.ts';

export type { OpAttrs, OpName, OpWeights };

export interface DerivedWeight {
  shape: number[];
  make: (get: (key: string) => Float32Array) => Float32Array;
}

export interface Sym {
  readonly id: number;
  readonly shape: readonly number[];
}

/** Weights and attributes of one op, typed from the native op table: required ones must be given. */
export type OpOptions<K extends OpName> = ({} extends OpWeights[K]
  ? { weights?: OpWeights[K] }
  : { weights: OpWeights[K] }) &
  ({} extends OpAttrs[K] ? { attrs?: OpAttrs[K] } : { attrs: OpAttrs[K] });
type OpArgs<K extends OpName> = {} extends OpOptions<K> ? [opts?: OpOptions<K>] : [opts: OpOptions<K>];

export class GraphBuilder {
  private shapes: number[][] = [];
  private nodes: GraphNodeSpec[] = [];
  private inputs: number[] = [];
  private outputs: [string, number][] = [];
  /** Parameter shapes the graph refers to, for checks against the loaded weights. */
  readonly weightShapes = new Map<string, readonly number[]>();
  /** Weights derived from the grid and the loaded weights (RoPE tables, assembled biases), by internal key. */
  readonly derived = new Map<string, DerivedWeight>();

  input(shape: readonly number[]): Sym {
    const s = this.tensor(shape);
    this.inputs.push(s.id);
    return s;
  }

  /** One node: `op` with its table-typed weights and attrs (native code checks them again, with ranges). */
  op<K extends OpName>(op: K, name: string, inputs: Sym[], shape: readonly number[], ...[opts]: OpArgs<K>): Sym {
    const out = this.tensor(shape);
    const o = (opts ?? {}) as { weights?: Record<string, string>; attrs?: Record<string, number> };
    this.nodes.push({ op, name, inputs: inputs.map((s) => s.id), output: out.id, weights: o.weights, attrs: o.attrs });
    return out;
  }

  /** A parameter as a tensor (no copy on CPU). */
  weight(key: string, shape: readonly number[]): Sym {
    return this.op('weight', key, [], shape, { weights: { weight: key } });
  }

  /**
   * A weight computed when the program is built (never loaded): `key` must be internal ('@...', never a timm
   * key); `make` reads loaded weights through `get`. Returns the key, for a weight role.
   */
  derive(key: string, shape: readonly number[], make: DerivedWeight['make']): string {
    if (!key.startsWith('@')) throw new Error(`derived weight '${key}' must have an internal '@' key`);
    if (!this.derived.has(key)) this.derived.set(key, { shape: [...shape], make });
    return key;
  }

  output(name: string, s: Sym): void {
    this.outputs.push([name, s.id]);
  }

  /**
   * timm LayerScale (x * gamma per channel): a builder-only node that the fusion pass folds into the Linear
   * producing x (fuse.ts); there is no native op for it.
   */
  layerScale(name: string, x: Sym, gamma: string): Sym {
    const out = this.tensor(x.shape);
    this.nodes.push({ op: 'layer_scale', name, inputs: [x.id], output: out.id, weights: { gamma } });
    return out;
  }

  /** Add two tensors (b may broadcast over the batch). A residual add after a Linear fuses into it. */
  add(name: string, a: Sym, b: Sym): Sym {
    return this.op('add', name, [a, b], a.shape);
  }

  /** The spec: epilogues fused, nodes that no output needs removed, tensors renumbered densely. */
  spec(): GraphSpec {
    const fused = fuseEpilogues(this.nodes, this.shapes, this.outputs);
    const producer = new Map<number, number>();
    fused.forEach((n, i) => producer.set(n.output, i));
    const needed = new Set<number>();
    const stack = this.outputs.map(([, id]) => id);
    while (stack.length) {
      const id = stack.pop()!;
      const ni = producer.get(id);
      if (ni === undefined || needed.has(ni)) continue;
      needed.add(ni);
      stack.push(...fused[ni].inputs);
    }
    const nodes = fused.filter((_, i) => needed.has(i));
    const ids = new Map<number, number>();
    const shapes: number[][] = [];
    const id = (t: number) => {
      let v = ids.get(t);
      if (v === undefined) {
        v = shapes.length;
        ids.set(t, v);
        shapes.push(this.shapes[t]);
      }
      return v;
    };
    const inputs = this.inputs.map(id);
    const renumbered = nodes.map((n) => ({ ...n, inputs: n.inputs.map(id), output: id(n.output) }));
    const outputs = this.outputs.map(([name, t]): [string, number] => [name, id(t)]);
    return { shapes, inputs, outputs, nodes: renumbered };
  }

  private tensor(shape: readonly number[]): Sym {
    const id = this.shapes.length;
    this.shapes.push([...shape]);
    return { id, shape: [...shape] };
  }
}
