// The builder's epilogue pass: modules write timm's `x + ls(f(x))`; a Linear whose only consumer is a LayerScale
// and/or a plain residual add takes them over as its gamma weight and residual input (one GEMM with post-ops on
// every backend). The fused Linear moves to its consumer's place, after the residual's producer.
import type { GraphNodeSpec } from '../binding.ts';
import { VitError } from '../errors.ts';

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function fuseEpilogues(nodes: GraphNodeSpec[], shapes: number[][], outputs: [string, number][]): GraphNodeSpec[] {
  const uses = new Map<number, number>();
  const use = (id: number) => uses.set(id, (uses.get(id) ?? 0) + 1);
  nodes.forEach((n) => n.inputs.forEach(use));
  outputs.forEach(([, id]) => use(id));

  const out: (GraphNodeSpec | null)[] = [];
  const at = new Map<number, number>(); // tensor id -> index in out of its producer
  /** The Linear producing `id` when this node is its only consumer and it has no epilogue of the given kind yet. */
  const soleLinear = (id: number, free: 'gamma' | 'residual') => {
    const i = at.get(id);
    const p = i === undefined ? null : out[i];
    if (!p || p.op !== 'linear' || uses.get(id) !== 1 || p.inputs.length !== 1) return null;
    if (free === 'gamma' && p.weights?.gamma) return null;
    return i!;
  };
  const moveHere = (i: number, n: GraphNodeSpec, update: (p: GraphNodeSpec) => GraphNodeSpec) => {
    const p = update(out[i]!);
    out[i] = null;
    at.set(n.output, out.length);
    out.push({ ...p, output: n.output });
  };

  for (const n of nodes) {
    if (n.op === 'layer_scale') {
      const i = soleLinear(n.inputs[0], 'gamma');
      if (i === null) throw new VitError('VIT_E_UNSUPPORTED', `LayerScale '${n.name}' must follow a Linear (no native scale op yet)`);
      moveHere(i, n, (p) => ({ ...p, weights: { ...p.weights, gamma: n.weights!.gamma } }));
      continue;
    }
    const plainAdd = n.op === 'add' && (n.attrs?.alpha ?? 1) === 1 && (n.attrs?.beta ?? 1) === 1;
    if (plainAdd && same(shapes[n.inputs[0]], shapes[n.inputs[1]])) {
      const j = [1, 0].find((k) => soleLinear(n.inputs[k], 'residual') !== null);
      if (j !== undefined) {
        moveHere(soleLinear(n.inputs[j], 'residual')!, n, (p) => ({ ...p, inputs: [p.inputs[0], n.inputs[1 - j]] }));
        continue;
      }
    }
    at.set(n.output, out.length);
    out.push(n);
  }
  return out.filter((n): n is GraphNodeSpec => n !== null);
}
