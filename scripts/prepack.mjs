#!/usr/bin/env node
// npm pack / npm publish guard: the package must carry the compiled JS and the prebuilt addon, or it would compile
// at install (binding.gyp, CPU-only, needs libdnnl-dev) or not load at all. VITNODE_PACK_FROM_SOURCE=1 packs
// without prebuilds on purpose.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const problems = [];
if (!existsSync(join(ROOT, 'dist', 'index.js'))) problems.push('dist/ is missing: run `npm run build:ts`');
const pre = join(ROOT, 'prebuilds');
const nodes = existsSync(pre) ? readdirSync(pre, { recursive: true }).filter((f) => String(f).endsWith('.node')) : [];
if (!nodes.length && process.env.VITNODE_PACK_FROM_SOURCE !== '1') {
  problems.push('prebuilds/ has no addon: run `npm run prebuildify` first (VITNODE_PACK_FROM_SOURCE=1 packs a package that compiles at install)');
}
if (problems.length) {
  console.error(`vitnode pack: ${problems.join('; ')}`);
  process.exit(1);
}
