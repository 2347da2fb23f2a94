// The builder's fusion pass: timm-style residual adds and LayerScale become a Linear's post-ops, only where that is
// exactly the same computation (the Linear's output has no other consumer, shapes match, a plain add).
import test from 'ava';
import { GraphBuilder } from '../lib/graph/builder.ts';

const lin = (g: GraphBuilder, name: string, x: { id: number; shape: readonly number[] }, act = 0) =>
  g.op('linear', name, [x], x.shape, { weights: { weight: `${name}.weight` }, attrs: { act } });

test('linear -> layer_scale -> add(residual) becomes one linear with gamma and the residual', (t) => {
  const g = new GraphBuilder();
  const x = g.input([2, 5, 8]);
  const y = lin(g, 'proj', x);
  const s = g.layerScale('ls1', y, 'ls1.gamma');
  g.output('y', g.add('add1', x, s));
  const spec = g.spec();
  t.is(spec.nodes.length, 1);
  const [n] = spec.nodes;
  t.is(n.op, 'linear');
  t.deepEqual(n.weights, { weight: 'proj.weight', gamma: 'ls1.gamma' });
  t.deepEqual(n.inputs, [spec.inputs[0], spec.inputs[0]]); // x W^T, + x
  t.is(n.output, spec.outputs[0][1]);
  t.is(spec.shapes.length, 2, 'tensors renumbered densely');
});

test('no fusion when the linear output has another consumer, the add scales, or it broadcasts', (t) => {
  const g = new GraphBuilder();
  const x = g.input([2, 5, 8]);
  const y = lin(g, 'a', x);
  g.output('sum', g.add('add', x, y));
  g.output('y', y); // second consumer
  t.deepEqual(g.spec().nodes.map((n) => n.op), ['linear', 'add']);

  const h = new GraphBuilder();
  const u = h.input([2, 8]);
  const v = lin(h, 'b', u);
  h.output('y', h.op('add', 'mean', [u, v], u.shape, { attrs: { alpha: 0.5, beta: 0.5 } }));
  t.deepEqual(h.spec().nodes.map((n) => n.op), ['linear', 'add']);

  const k = new GraphBuilder();
  const p = k.input([1, 5, 8]);
  const q = k.input([2, 5, 8]);
  k.output('y', k.add('add', q, lin(k, 'c', p)));
  t.deepEqual(k.spec().nodes.map((n) => n.op), ['linear', 'add'], 'batch broadcast stays an add');
});

test('the fused linear runs where its consumer was (after the residual is computed)', (t) => {
  const g = new GraphBuilder();
  const x = g.input([2, 5, 8]);
  const y = lin(g, 'early', x);
  const r = lin(g, 'residual', x, 1);
  g.output('y', g.add('add', r, y));
  const spec = g.spec();
  t.deepEqual(spec.nodes.map((n) => n.name), ['residual', 'early']);
  t.is(spec.nodes[1].inputs[1], spec.nodes[0].output);
});

test('a LayerScale that cannot fold into a Linear is refused', (t) => {
  const g = new GraphBuilder();
  const x = g.input([2, 5, 8]);
  g.output('y', g.layerScale('ls', g.op('gelu', 'act', [x], x.shape), 'ls.gamma'));
  t.throws(() => g.spec(), { code: 'VIT_E_UNSUPPORTED', message: /LayerScale 'ls'/ });
});
