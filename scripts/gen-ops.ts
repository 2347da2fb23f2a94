// Writes lib/graph/ops.generated.ts from the addon's op table (native/include/vit/ops.def), so GraphBuilder.op is
// type-checked: `node --import=tsx scripts/gen-ops.ts` after changing the table (and rebuilding the addon).
// test/ops-table.test.ts fails while the committed file differs from renderOps(binding.opTable()).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeOpAttr, NativeOpDef } from '../lib/binding.ts';

export const GENERATED = fileURLToPath(new URL('../lib/graph/ops.generated.ts', import.meta.url));

const INT_MAX = 2 ** 31 - 1;

const num = (v: number) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v));

function range(a: NativeOpAttr): string {
  const hi = a.max === null || a.max >= INT_MAX ? null : a.max;
  if (a.min === null) return hi === null ? `any ${a.type}` : `${a.type} <= ${num(hi)}`;
  return hi === null ? `${a.type} >= ${num(a.min)}` : `${a.type} in [${num(a.min)}, ${num(hi)}]`;
}

function attrDoc(a: NativeOpAttr): string {
  const use = a.required ? 'required' : a.default === null ? 'default depends on the shapes' : `default ${num(a.default)}`;
  return `${a.doc}. ${range(a)}, ${use}`;
}

// Table text inside /** */ comments.
const doc = (s: string) => s.replaceAll('*/', '* /');

// A /** */ comment wrapped at 116 columns.
function comment(text: string, indent: string): string[] {
  const width = 116 - indent.length - 3;
  const lines: string[] = [];
  let line = '';
  for (const word of doc(text).split(' ')) {
    if (line && line.length + 1 + word.length > width) lines.push(line), (line = word);
    else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  if (lines.length === 1) return [`${indent}/** ${lines[0]} */`];
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`];
}

function members(items: { name: string; optional: boolean; type: string; doc?: string }[], indent: string): string {
  if (!items.length) return 'Record<string, never>';
  const lines = items.flatMap((m) => [
    ...(m.doc ? comment(m.doc, `${indent}  `) : []),
    `${indent}  ${m.name}${m.optional ? '?' : ''}: ${m.type};`,
  ]);
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function inputs(op: NativeOpDef): string {
  if (op.maxInputs === null) return `${op.minInputs} or more inputs`;
  if (op.minInputs !== op.maxInputs) return `${op.minInputs} to ${op.maxInputs} inputs`;
  return op.minInputs === 1 ? '1 input' : `${op.minInputs} inputs`;
}

export function renderOps(table: NativeOpDef[]): string {
  const out: string[] = [
    '// Generated from the native op table (native/include/vit/ops.def) by `node --import=tsx scripts/gen-ops.ts`.',
    '// Do not edit: change the table, rebuild the addon and regenerate (test/ops-table.test.ts checks it is current).',
    '',
    '/** Every op the native backends know. */',
    `export type OpName =\n${table.map((op) => `  | '${op.name}'`).join('\n')};`,
    '',
    '/** The attributes of each op (numbers; integers where the doc says int). */',
    'export interface OpAttrs {',
  ];
  for (const op of table) {
    const traits = op.traits.length ? ` [${op.traits.join(', ')}]` : '';
    out.push(...comment(`${op.doc}. ${inputs(op)}${traits}`, '  '));
    const attrs = op.attrs.map((a) => ({ name: a.name, optional: !a.required, type: 'number', doc: attrDoc(a) }));
    out.push(`  ${op.name}: ${members(attrs, '  ')};`);
  }
  out.push('}', '', '/** The weight roles of each op: role -> state_dict key. */', 'export interface OpWeights {');
  for (const op of table) {
    const roles = op.roles.map((r) => ({ name: r.name, optional: !r.required, type: 'string' }));
    out.push(`  ${op.name}: ${members(roles, '  ')};`);
  }
  out.push('}', '');
  return out.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { binding } = await import('../lib/binding.ts');
  writeFileSync(GENERATED, renderOps(binding.opTable()));
  console.log(`wrote ${GENERATED}`);
}
