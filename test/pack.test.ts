// Shipping: `npm run prebuildify` (prebuildify through cmake-js) + `npm pack`; the tarball's contents audited; installed
// into a fresh project from the local npm cache with install scripts off, it loads its prebuild (and the oneDNN /
// OpenMP / OpenCL copies beside it), classifies digits, runs the README's snippet as written and loads with require().
// Running its install script afterwards compiles nothing.
// Bounded: ~20-60 s (packing ~40 MB of libdnnl dominates).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, readSafetensors, writeSafetensors } from '../lib/index.ts';
import { snippets as readmeSnippets } from '../scripts/snippets.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TUPLE = `${process.platform}-${process.arch}`;
const npm = (args: string[], cwd: string, timeout = 180_000) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

test('npm pack: prebuilt addon + bundled libraries, no fixtures or build leftovers; installs offline and runs the digits demo without compiling', async (t) => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return t.pass('prebuilds are made for linux-x64 (glibc)');
  t.true(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is built (npm run build:ts)');

  // 1. The prebuild, from the project's cmake-js build (incremental: nothing to compile after the set-up).
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'prebuild.mjs')], { cwd: ROOT, timeout: 600_000, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return t.fail(`npm run prebuildify failed:\n${String(e.stdout ?? '').slice(-3000)}\n${String(e.stderr ?? '').slice(-3000)}`);
  }
  const pre = readdirSync(join(ROOT, 'prebuilds', TUPLE)).sort();
  t.deepEqual(pre, ['libOpenCL.so.1', 'libdnnl.so.2', 'libgomp.so.1', 'vitnode.glibc.node']);

  // 2. Pack and audit.
  const work = mkdtempSync(join(tmpdir(), 'vitnode-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string; size: number }[];
  }[];
  const paths = info.files.map((f) => f.path);
  const forbidden = paths.filter((p) =>
    /^(test|bench|scratch|examples|build|scripts|shared|\.ci|\.gpu-carry|node_modules)\//.test(p) ||
    /fixtures|\.(log|tgz|o|safetensors|pth|npz)$|CMakeCache|\.ninja/.test(p),
  );
  t.deepEqual(forbidden, [], 'no tests, fixtures, benches or build leftovers in the package');
  for (const p of ['package.json', 'dist/index.js', 'dist/serve/batcher.js', 'dist/cli/main.js', 'binding.gyp', 'CMakeLists.txt', 'native/src/core/program.cc', `prebuilds/${TUPLE}/vitnode.glibc.node`, `prebuilds/${TUPLE}/libdnnl.so.2`]) {
    t.true(paths.includes(p), `package has ${p}`);
  }
  t.log(`${info.filename}: ${(info.size / 2 ** 20).toFixed(1)} MiB packed, ${(info.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked, ${paths.length} files`);

  // 3. A fresh project; dependencies from the npm cache (filled by the set-up's npm ci), install scripts off.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'vitnode-smoke', private: true, type: 'module' }));
  const tgz = join(work, info.filename);
  const base = ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', tgz];
  try {
    npm([...base, '--offline'], app);
  } catch {
    npm([...base, '--prefer-offline'], app); // a cache that lacks some packument: fetch only what is missing
  }
  const pkg = join(app, 'node_modules', 'vitnode');
  t.false(existsSync(join(pkg, 'build')), 'nothing built');

  // 4. The digits demo logic through the installed package; which addon and which libdnnl got loaded.
  const digits = join(ROOT, 'examples', 'digits');
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    import { join } from 'node:path';
    import { createModel, createBatcher } from 'vitnode';
    const dir = ${JSON.stringify(digits)};
    const files = readdirSync(join(dir, 'images')).filter((f) => f.endsWith('.png')).sort().slice(0, 8);
    const model = await createModel(join(dir, 'config.json'), { checkpoint: join(dir, 'model.safetensors'), threads: 1 });
    const preds = await model.classify(files.map((f) => join(dir, 'images', f)), { topK: 1 });
    const b = createBatcher(model, { maxDelayMs: 5 });
    const batched = await Promise.all(files.map((f) => b.classify(readFileSync(join(dir, 'images', f)), { topK: 1 })));
    await b.close();
    model.dispose();
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const lib = (re) => [...new Set(maps.split('\\n').filter((l) => re.test(l)).map((l) => l.slice(l.indexOf('/'))))];
    console.log(JSON.stringify({
      truth: files.map((f) => /label(\\d+)/.exec(f)[1]),
      labels: preds.map((p) => p[0].label),
      batched: batched.map((p) => p[0].label),
      addon: lib(/[/]vitnode[^/]*\\.node$/), dnnl: lib(/libdnnl/), gomp: lib(/libgomp/), opencl: lib(/libOpenCL/),
    }));`;
  writeFileSync(join(app, 'smoke.mjs'), script);
  const out = JSON.parse(execFileSync(process.execPath, ['smoke.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 })) as Record<string, string[]>;
  t.deepEqual(out.labels, out.truth);
  t.deepEqual(out.batched, out.truth);
  const preDir = join(pkg, 'prebuilds', TUPLE);
  t.deepEqual(out.addon, [join(preDir, 'vitnode.glibc.node')], 'the prebuild was loaded');
  t.deepEqual(out.dnnl, [join(preDir, 'libdnnl.so.2')], 'the bundled oneDNN was loaded');
  t.deepEqual(out.gomp, [join(preDir, 'libgomp.so.1')]);
  t.deepEqual(out.opencl, [join(preDir, 'libOpenCL.so.1')], "libdnnl's own libOpenCL resolves beside it");

  // 5. The README's snippet, as written, in the consumer project (its checkpoint: a seeded deit_tiny's stateDict()),
  //    and require('vitnode') from CommonJS.
  const seeded = await createModel('deit_tiny_patch16_224', { seed: 1, threads: 1 });
  writeSafetensors(join(app, 'model.safetensors'), seeded.stateDict());
  const wantKeys = seeded.stateDictShapes().map(([k]) => k);
  seeded.dispose();
  const [snippet] = readmeSnippets(readFileSync(join(pkg, 'README.md'), 'utf8'));
  t.truthy(snippet, 'the installed README has a ts snippet');
  writeFileSync(join(app, 'readme.mjs'), snippet.code);
  const ran = execFileSync(process.execPath, ['readme.mjs'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  t.regex(ran, /^deit_tiny_patch16_224 \(weights model\.safetensors\) \[ 2, 1000 \] \[ 2, 197, 192 \] 4 \[ 2, 192 \] 12$/m, ran);
  t.deepEqual([...readSafetensors(join(app, 'copy.safetensors')).keys()], wantKeys, "writeSafetensors(path, model.stateDict()) wrote timm's state_dict");
  const cjs = execFileSync(process.execPath, ['-e', "const v = require('vitnode'); console.log(typeof v.createModel, typeof v.Tensor)"], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  t.is(cjs.trim(), 'function function', "require('vitnode') loads the ES module");

  // 6. The install script (node-gyp-build) with scripts on: it finds the prebuild and compiles nothing.
  npm(['rebuild', 'vitnode', '--offline', '--foreground-scripts'], app, 120_000);
  t.false(existsSync(join(pkg, 'build')), 'node-gyp-build used the prebuild (no build/ made)');
});
