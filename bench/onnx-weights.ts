// Gives ONNX Runtime exactly the weights vitnode holds. The graphs in bench/onnx/ (copied from
// shared/bench/onnx, timm 1.0.29 exports, opset 17) keep every initializer as external data in
// <model>.weights.bin, which is not shipped; <model>.layout.json gives each timm state_dict key's shape and byte
// offset in that file. We write a temp dir with a copy of the .onnx and a weights.bin filled from our state_dict
// (ONNX Runtime resolves external data relative to the model file).
import { copyFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ONNX_DIR = join(dirname(fileURLToPath(import.meta.url)), 'onnx');

interface LayoutEntry {
  key: string;
  shape: number[];
  offset: number;
  length: number;
}

interface Layout {
  model: string;
  weights_file: string;
  total_bytes: number;
  tensors: LayoutEntry[];
  embedded_initializers: unknown[];
}

export function onnxModels(): string[] {
  return ['deit_tiny_patch16_224', 'vit_small_patch16_224', 'vit_base_patch16_224'].filter((m) =>
    existsSync(join(ONNX_DIR, `${m}.onnx`)),
  );
}

/**
 * Writes `<dir>/<model>.onnx` and `<dir>/<model>.weights.bin` from `tensors` (timm key -> float32 data) and returns
 * the .onnx path. Every layout key must be present with the layout's shape, and every tensor must be used: a
 * mismatch throws (it would make the comparison meaningless).
 */
export function writeOnnxWithWeights(
  model: string,
  tensors: Map<string, { shape: readonly number[]; data: Float32Array }>,
  dir = mkdtempSync(join(tmpdir(), `vitnode-bench-${model}-`)),
): string {
  const layout = JSON.parse(readFileSync(join(ONNX_DIR, `${model}.layout.json`), 'utf8')) as Layout;
  if (layout.embedded_initializers.length) throw new Error(`${model}: layout has embedded initializers; not supported`);
  const problems: string[] = [];
  const used = new Set<string>();
  for (const e of layout.tensors) {
    const t = tensors.get(e.key);
    if (!t) {
      problems.push(`missing ${e.key}`);
      continue;
    }
    used.add(e.key);
    if (t.shape.join('x') !== e.shape.join('x') || t.data.byteLength !== e.length) {
      problems.push(`${e.key}: ours [${t.shape.join(', ')}] vs onnx [${e.shape.join(', ')}]`);
    }
  }
  for (const k of tensors.keys()) if (!used.has(k)) problems.push(`unexpected ${k}`);
  if (problems.length) throw new Error(`${model}: state_dict does not match the ONNX layout: ${problems.slice(0, 8).join('; ')}`);

  const onnxPath = join(dir, `${model}.onnx`);
  copyFileSync(join(ONNX_DIR, `${model}.onnx`), onnxPath);
  const fd = openSync(join(dir, layout.weights_file), 'w');
  try {
    // Pre-size the file, then write each tensor at its offset (gaps, if any, stay zero).
    if (layout.total_bytes > 0) writeSync(fd, Buffer.alloc(1), 0, 1, layout.total_bytes - 1);
    for (const e of layout.tensors) {
      const t = tensors.get(e.key)!;
      writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 0, e.length, e.offset);
    }
  } finally {
    closeSync(fd);
  }
  return onnxPath;
}
