#!/usr/bin/env node
// npm run prebuildify: prebuilds/<platform>-<arch>/vitnode.glibc.node (+ the runtime libraries it carries) with
// prebuildify, building through cmake-js (scripts/prebuild-shim.mjs stands in for node-gyp). prebuildify takes the
// build from <cwd>/build/Release and moves it, so it runs in a staging folder: the project's own build/Release
// (what tests and `npm run demo` load) is left alone.
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stage = join(root, 'build', 'prebuild-stage');
rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'build', 'Release'), { recursive: true });

const prebuildify = createRequire(import.meta.url)('prebuildify');
prebuildify(
  {
    cwd: stage,
    out: root,
    name: 'vitnode',
    napi: true,
    tagLibc: true,
    strip: true,
    nodeGyp: join(root, 'scripts', 'prebuild-shim.mjs'),
  },
  (err) => {
    if (err) {
      console.error(`prebuild: ${err.message ?? err}`);
      process.exit(1);
    }
    console.log(`prebuild: done -> ${join(root, 'prebuilds', `${process.platform}-${process.arch}`)}`);
  },
);
