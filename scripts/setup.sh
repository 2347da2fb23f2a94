#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system libraries, npm packages, native addon, compiled JS.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/include/dnnl.hpp ] || need_apt+=(libdnnl-dev)
ldconfig -p 2>/dev/null | grep -q libOpenCL.so.1 || need_apt+=(ocl-icd-libopencl1)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v patchelf >/dev/null || need_apt+=(patchelf)   # npm run prebuildify (test/pack.test.ts): RUNPATH of the bundled libdnnl
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${need_apt[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --ignore-scripts: our own install script (node-gyp-build) is for users of the published package;
# here we build with cmake-js below (CPU + CUDA when nvcc is present).
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip
if [ -f package-lock.json ]; then npm ci --ignore-scripts --no-audit --no-fund; else npm install --ignore-scripts --no-audit --no-fund; fi

npx cmake-js compile --out build ${VIT_CMAKE_ARGS:-}
npm run build:ts
echo "setup: done ($(node -p "require('./build/Release/vitnode.node') && 'addon loads'"))"
