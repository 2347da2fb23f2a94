// Symbolic graph construction: modules call these methods with symbolic tensors; the finished spec crosses
// into native code once per model and input shape.
import type { GraphNodeSpec, GraphSpec } from '../binding.ts';
import type { OpAttrs, OpName, OpWeights } from './ops.generated.ts';

export type { OpAttrs, OpName, OpWeights };

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

  output(name: string, s: Sym): void {
    this.outputs.push([name, s.id]);
  }

  /** The spec with nodes that no output needs removed. */
  spec(): GraphSpec {
    const producer = new Map<number, number>();
    this.nodes.forEach((n, i) => producer.set(n.output, i));
    const needed = new Set<number>();
    const stack = this.outputs.map(([, id]) => id);
    while (stack.length) {
      const id = stack.pop()!;
      const ni = producer.get(id);
      if (ni === undefined || needed.has(ni)) continue;
      needed.add(ni);
      stack.push(...this.nodes[ni].inputs);
    }
    return {
      shapes: this.shapes,
      inputs: this.inputs,
      outputs: this.outputs,
      nodes: this.nodes.filter((_, i) => needed.has(i)),
    };
  }

  private tensor(shape: readonly number[]): Sym {
    const id = this.shapes.length;
    this.shapes.push([...shape]);
    return { id, shape: [...shape] };
  }
}
