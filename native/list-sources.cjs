// binding.gyp's source list (`<!@(node native/list-sources.cjs)`): the CPU-only build's .cc files, found like
// CMakeLists.txt's VIT_CORE_SOURCES glob (core, cpu, napi) plus the CUDA stub, so adding a .cc needs no edit
// there. Lives under native/ because the npm package ships native/ (and not scripts/).
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dirs = ['native/src/core', 'native/src/cpu', 'native/src/napi', 'native/src/cuda-stub'];
const files = dirs.flatMap((d) =>
  readdirSync(join(root, d))
    .filter((f) => f.endsWith('.cc'))
    .sort()
    .map((f) => `${d}/${f}`),
);
process.stdout.write(`${files.join('\n')}\n`);
