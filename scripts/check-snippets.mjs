#!/usr/bin/env node
// Type-checks the ```ts snippets of README.md and docs/*.md with strict tsc, as a consumer sees them: each snippet is
// one module importing 'vitnode' (mapped to lib/index.ts). Usage: node scripts/check-snippets.mjs [extra.md ...].
// Exit code 1 with tsc's diagnostics (snippet file + line) when any snippet does not type-check.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { snippets } from './snippets.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const docs = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
const files = [...docs, ...process.argv.slice(2)];

const dir = mkdtempSync(join(tmpdir(), 'vitnode-snippets-'));
try {
  const names = [];
  for (const f of files) {
    snippets(readFileSync(f, 'utf8')).forEach((s, k) => {
      const name = `${relative(ROOT, f).replace(/[^\w]/g, '_')}_${k}_line${s.line}.ts`;
      // `export {}` keeps a snippet without imports a module (top-level await, no global clashes)
      writeFileSync(join(dir, name), `${s.code}\nexport {};\n`);
      names.push(name);
    });
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', strict: true, noEmit: true, skipLibCheck: true,
      allowImportingTsExtensions: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
      paths: { vitnode: [join(ROOT, 'lib', 'index.ts')] },
    },
    files: names,
  }));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    console.log(`${names.length} snippet(s) type-check: ${names.join(', ')}`);
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
