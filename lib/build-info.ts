// Which addon this process loaded and how it was built: a prebuild, a cmake-js build (CMakeLists.txt, CUDA when
// nvcc was found) or node-gyp's from-source fallback (binding.gyp: CPU-only, never CUDA). `vitnode doctor` says it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

export interface BuildInfo {
  kind: 'prebuild' | 'cmake-js' | 'node-gyp' | 'unknown';
  /** The .node file. */
  path: string;
  /** One line for doctor. */
  description: string;
  /** Why this build has no CUDA and how to get it (set when the addon was compiled without CUDA). */
  noCuda: string;
}

const HOW_TO_CUDA = 'for CUDA, install a CUDA prebuild, or build with cmake-js where nvcc is on the PATH ' +
  '(`npx cmake-js compile` in the package folder; docs/operations.md)';

/** Classifies an addon path by the build folder around it. */
export function describeBuild(path: string): BuildInfo {
  if (path.split(sep).includes('prebuilds')) {
    return { kind: 'prebuild', path, description: `prebuilt addon ${path}`, noCuda: `this prebuild is CPU-only; ${HOW_TO_CUDA}` };
  }
  const buildDir = dirname(dirname(path)); // build/Release/vitnode.node -> build
  const cache = join(buildDir, 'CMakeCache.txt');
  if (existsSync(cache)) {
    const off = /^VIT_WITH_CUDA:BOOL=(OFF|0|FALSE|NO)$/im.test(readFileSync(cache, 'utf8'));
    return {
      kind: 'cmake-js',
      path,
      description: `built from source with cmake-js (CMakeLists.txt): ${path}`,
      noCuda: off ? `this cmake-js build was configured with VIT_WITH_CUDA=OFF; rebuild without it where nvcc is on the PATH`
        : `this cmake-js build found no nvcc when it was configured; ${HOW_TO_CUDA}`,
    };
  }
  if (existsSync(join(buildDir, 'config.gypi')) || existsSync(join(buildDir, 'Makefile'))) {
    return {
      kind: 'node-gyp',
      path,
      description: `built from source by node-gyp (binding.gyp, the CPU-only fallback used when no prebuild matches): ${path}`,
      noCuda: `this is the CPU-only fallback build (binding.gyp never compiles CUDA, whether or not nvcc is installed); ${HOW_TO_CUDA}`,
    };
  }
  return { kind: 'unknown', path, description: path, noCuda: `this vitnode binary was built without CUDA; ${HOW_TO_CUDA}` };
}
