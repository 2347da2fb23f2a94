// The native op table (native/include/vit/ops.def) and what it drives: the generated TS types are current, the
// generic node check rejects what the table does not allow (natively, with codes), both backends register every
// op, and GraphBuilder.op is type-checked against it (the @ts-expect-error lines below; tsc runs on this file).
import test from 'ava';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { binding, type GraphSpec, type NativeWeightStore } from '../lib/binding.ts';
import { GraphBuilder } from '../lib/graph/builder.ts';
import { GENERATED, renderOps } from '../scripts/gen-ops.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const table = binding.opTable();

function store(): NativeWeightStore {
  const s = new binding.WeightStore();
  s.set('l.weight', [4, 4], new Float32Array(16).fill(0.5));
  s.set('l.bias', [4], new Float32Array(4));
  return s;
}

/** The error code and message of creating a CPU program, or 'no error'. */
function attempt(s: NativeWeightStore, spec: GraphSpec): { code: string; message: string } {
  try {
    new binding.Program(spec, s, { device: 'cpu' }).dispose();
    return { code: 'no error', message: '' };
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
}

test('lib/graph/ops.generated.ts is current with the addon (else: node --import=tsx scripts/gen-ops.ts)', (t) => {
  t.is(readFileSync(GENERATED, 'utf8'), renderOps(table));
});

test('every op has a CPU kernel (CUDA may follow: listed); names and attributes are unique', (t) => {
  const cuda = binding.cudaStatus().compiled;
  const cpuFirst = table.filter((op) => !op.backends.cuda).map((op) => op.name);
  if (cuda && cpuFirst.length) t.log(`not on CUDA yet: ${cpuFirst.join(', ')}`);
  for (const op of table) {
    t.true(op.backends.cpu, `${op.name} on cpu`);
    if (!cuda) t.false(op.backends.cuda, `${op.name}: no CUDA in this build`);
    t.is(new Set(op.attrs.map((a) => a.name)).size, op.attrs.length, `${op.name}: attribute names`);
    for (const a of op.attrs.filter((x) => x.default !== null))
      t.true((a.min ?? -Infinity) <= a.default! && a.default! <= (a.max ?? Infinity), `${op.name}.${a.name} default in range`);
  }
  t.is(new Set(table.map((op) => op.name)).size, table.length);
});

test('test-only ops are emitted by no lib/ module; every other op is', (t) => {
  const lib: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts') && e.name !== 'ops.generated.ts') lib.push(readFileSync(join(dir, e.name), 'utf8'));
    }
  };
  walk(join(ROOT, 'lib'));
  const text = lib.join('\n');
  for (const op of table) {
    if (op.traits.includes('test_only')) t.false(new RegExp(`\\.op\\(\\s*'${op.name}'`).test(text), `${op.name} is marked test_only but lib/ emits it`);
    else t.true(text.includes(`'${op.name}'`), `${op.name} is emitted by no lib/ module: mark it test_only or remove it`);
  }
});

test('the generic node check: unknown attributes and roles are VIT_E_ARGUMENT; counts, ranges, integrality and missing ones VIT_E_SHAPE', (t) => {
  const s = store();
  t.teardown(() => s.dispose());
  const spec = (node: Partial<GraphSpec['nodes'][number]>, shapes = [[2, 4], [2, 4]], inputs = [0]): GraphSpec => ({
    shapes,
    inputs,
    outputs: [['y', shapes.length - 1]],
    nodes: [{ op: 'linear', name: 'blocks.0.fc', inputs: [0], output: shapes.length - 1, weights: { weight: 'l.weight' }, ...node }],
  });
  const cases: [string, GraphSpec, string, RegExp][] = [
    ['unknown attribute', spec({ attrs: { actt: 1 } }), 'VIT_E_ARGUMENT', /linear 'blocks\.0\.fc': unknown attribute 'actt' \(attributes: act\)/],
    ['unknown role', spec({ weights: { weight: 'l.weight', biass: 'l.bias' } }), 'VIT_E_ARGUMENT', /linear 'blocks\.0\.fc': unknown weight role 'biass' \(roles: weight, bias, gamma\)/],
    ['removed scale_q', spec({ op: 'attention', weights: {}, attrs: { heads: 1, scale_q: 1 } }, [[1, 2, 12], [1, 2, 4]]), 'VIT_E_ARGUMENT', /attention 'blocks\.0\.fc': unknown attribute 'scale_q'/],
    ['out of range', spec({ attrs: { act: 8 } }), 'VIT_E_SHAPE', /linear 'blocks\.0\.fc': attribute act = 8 is outside \[0, 7\]/],
    ['below an open range', spec({ op: 'attention', weights: {}, attrs: { heads: 0 } }, [[1, 2, 12], [1, 2, 4]]), 'VIT_E_SHAPE', /attribute heads = 0 is outside \[1, inf\)/],
    ['NaN', spec({ op: 'add', weights: {}, inputs: [0, 0], attrs: { alpha: NaN } }), 'VIT_E_SHAPE', /attribute alpha = nan is outside/],
    ['not an integer', spec({ attrs: { act: 1.5 } }), 'VIT_E_SHAPE', /attribute act = 1\.5 must be an integer/],
    ['missing attribute', spec({ op: 'attention', weights: {}, attrs: {} }, [[1, 2, 12], [1, 2, 4]]), 'VIT_E_SHAPE', /attention 'blocks\.0\.fc': missing attribute 'heads'/],
    ['missing role', spec({ op: 'layer_norm', weights: { weight: 'l.bias' } }), 'VIT_E_SHAPE', /layer_norm 'blocks\.0\.fc': missing weight role 'bias'/],
    ['too few inputs', spec({ op: 'add', weights: {} }), 'VIT_E_SHAPE', /add 'blocks\.0\.fc': takes 2 inputs, got 1/],
    ['too many inputs', spec({ inputs: [0, 0, 0] }), 'VIT_E_SHAPE', /linear 'blocks\.0\.fc': takes 1 to 2 inputs, got 3/],
    ['unknown op', spec({ op: 'conv3d' }), 'VIT_E_UNSUPPORTED', /unknown op 'conv3d'/],
  ];
  for (const [what, sp, code, msg] of cases) {
    const got = attempt(s, sp);
    t.is(got.code, code, `${what}: ${got.message}`);
    t.regex(got.message, msg, what);
  }
  // and the same node within the table's limits builds
  t.is(attempt(s, spec({ attrs: { act: 3 } })).code, 'no error');
});

test('GraphBuilder.op is typed from the table: misspelt ops, attributes and roles are tsc errors (and native ones)', (t) => {
  const s = store();
  t.teardown(() => s.dispose());
  const build = (f: (g: GraphBuilder) => void) => () => {
    const g = new GraphBuilder();
    f(g);
    return attempt(s, g.spec()).code;
  };
  const x = (g: GraphBuilder) => g.input([2, 4]);
  const out = (g: GraphBuilder, y: ReturnType<GraphBuilder['input']>) => g.output('y', y);
  // @ts-expect-error: no op 'lineer'
  t.is(build((g) => out(g, g.op('lineer', 'l', [x(g)], [2, 4])))(), 'VIT_E_UNSUPPORTED');
  // @ts-expect-error: 'actt' is not an attribute of linear
  t.is(build((g) => out(g, g.op('linear', 'l', [x(g)], [2, 4], { weights: { weight: 'l.weight' }, attrs: { actt: 1 } })))(), 'VIT_E_ARGUMENT');
  // @ts-expect-error: 'biass' is not a weight role of linear
  t.is(build((g) => out(g, g.op('linear', 'l', [x(g)], [2, 4], { weights: { weight: 'l.weight', biass: 'l.bias' } })))(), 'VIT_E_ARGUMENT');
  // @ts-expect-error: linear requires its weight role
  t.is(build((g) => out(g, g.op('linear', 'l', [x(g)], [2, 4])))(), 'VIT_E_SHAPE');
  // @ts-expect-error: attention requires heads
  t.is(build((g) => out(g, g.op('attention', 'a', [g.input([1, 2, 12])], [1, 2, 4], { attrs: { scale: 1 } })))(), 'VIT_E_SHAPE');
  t.is(build((g) => out(g, g.op('linear', 'l', [x(g)], [2, 4], { weights: { weight: 'l.weight', bias: 'l.bias' }, attrs: { act: 1 } })))(), 'no error');
});

test('tsc: this file type-checks, so every @ts-expect-error above is a real type error', async (t) => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--allowImportingTsExtensions', fileURLToPath(import.meta.url)];
  try {
    await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: ROOT, timeout: 240_000 });
    t.pass();
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    t.fail(`tsc: ${err.stdout || err.stderr || err.message}`);
  }
});

test('the shared buffer planner (core/plan.cc) reuses a slot once its last reader ran', (t) => {
  const s = store();
  t.teardown(() => s.dispose());
  // x -> relu -> relu -> relu -> y on 16 floats (64 bytes, one slot each): two slots alternate.
  const g = new GraphBuilder();
  let h = g.input([16]);
  for (let i = 0; i < 3; i++) h = g.op('relu', `r${i}`, [h], [16]);
  g.output('y', h);
  const p = new binding.Program(g.spec(), s, { device: 'cpu' });
  t.teardown(() => p.dispose());
  t.is(p.arenaBytes(), 128);
  const x = Float32Array.from({ length: 16 }, (_, i) => i - 8);
  t.deepEqual(Array.from(p.runSync([x], 1)[0].data), Array.from(x, (v) => Math.max(0, v)));
});
