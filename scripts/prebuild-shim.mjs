#!/usr/bin/env node
// prebuildify's build step through cmake-js: `npm run prebuildify` (scripts/prebuild.mjs) runs prebuildify with
// --napi --tag-libc --strip and this file as its node-gyp, in a staging folder (the cwd prebuildify gives us):
// prebuildify calls it as node-gyp (`rebuild --target=<v> --devdir=<d> --arch=<a> --release`).
// CMakeLists.txt stays the source of truth (CPU + CUDA when nvcc is present; VIT_CMAKE_ARGS passes more, e.g.
// "--CDVIT_WITH_CUDA=OFF"). It is a Node-API build, so the running node's headers serve every target: --target and
// --devdir are ignored (no header download: this works offline).
//
// After the build it copies the runtime libraries the package carries next to the .node (docs/design.md §2a):
// libdnnl.so.2, libgomp.so.1, libOpenCL.so.1. The .node finds them through its RUNPATH $ORIGIN; the copy of
// libdnnl gets RUNPATH $ORIGIN too (patchelf), so its own libOpenCL / libgomp resolve to the copies beside it.
// prebuildify then moves build/Release/*.node and *.so.N into prebuilds/linux-x64/.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLED = ['libdnnl.so.2', 'libgomp.so.1', 'libOpenCL.so.1'];

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuild-shim: expected node-gyp's 'rebuild', got: ${args.join(' ')}`);
  process.exit(2);
}
const debug = args.includes('--debug');
const arch = args.find((a) => a.startsWith('--arch='))?.slice(7) ?? process.arch;
if (arch !== process.arch) {
  console.error(`prebuild-shim: cross-compiling (${arch} on ${process.arch}) is not supported`);
  process.exit(2);
}

const config = debug ? 'Debug' : 'Release';
const built = join(root, 'build', config); // the project's own cmake-js build (incremental)
const outDir = join(process.cwd(), 'build', config); // where prebuildify picks the prebuild up from
if (outDir === built) throw new Error('prebuild-shim: run it through `npm run prebuildify` (a staging folder), not in the project root');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const extra = (process.env.VIT_CMAKE_ARGS ?? '').split(/\s+/).filter(Boolean);
// The running node's headers (npm's nodedir, else the install prefix), handed to cmake-js the way npm does
// (npm_config_nodedir): without it cmake-js downloads them, which fails offline.
const env = { ...process.env };
const nodedir = env.npm_config_nodedir || join(dirname(process.execPath), '..');
if (existsSync(join(nodedir, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodedir;
execFileSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', ...(debug ? ['--debug'] : []), ...extra], { cwd: root, env, stdio: 'inherit' });

const node = readdirSync(built).find((f) => f.endsWith('.node'));
if (!node) throw new Error(`prebuild-shim: no .node in ${built}`);
copyFileSync(join(built, node), join(outDir, node));

/** soname -> path, as the dynamic loader resolves them for `file` (ldd). */
function resolved(file) {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  const map = new Map();
  for (const m of out.matchAll(/^\s*(\S+) => (\/\S+)/gm)) map.set(m[1], m[2]);
  return map;
}

const deps = resolved(join(outDir, node));
const dnnl = deps.get('libdnnl.so.2');
if (!dnnl) throw new Error('prebuild-shim: the addon does not link libdnnl.so.2 (ldd)');
const all = new Map([...resolved(dnnl), ...deps]);
for (const lib of BUNDLED) {
  const from = all.get(lib);
  if (!from) throw new Error(`prebuild-shim: ${lib} not found (ldd ${node}); install it (apt-get install libdnnl-dev ocl-icd-libopencl1)`);
  const to = join(outDir, lib);
  copyFileSync(realpathSync(from), to);
  chmodSync(to, 0o755);
}
try {
  execFileSync('patchelf', ['--set-rpath', '$ORIGIN', join(outDir, 'libdnnl.so.2')]);
} catch (err) {
  throw new Error(`prebuild-shim: patchelf failed (${err.message}); install it: apt-get install patchelf`);
}
if (!existsSync(join(outDir, node))) throw new Error('unreachable');
console.log(`prebuild-shim: ${node} + ${BUNDLED.join(', ')} in ${outDir}`);
