// The engines under test behind one small interface. Each is imported lazily so that a child process measuring
// one engine never loads the other's native library (its peak RSS is its own).

export type EngineName = 'vitnode' | 'vitnode-bf16' | 'ort' | 'torch';

export interface Engine {
  readonly name: EngineName;
  readonly version: string;
  /** Logits [B, numClasses] for NCHW float32 input `x` of batch `batch`. */
  run(x: Float32Array, batch: number): Promise<Float32Array>;
  dispose(): Promise<void> | void;
}

export interface EnginePaths {
  /** safetensors checkpoint with the weights (vitnode). */
  checkpoint: string;
  /** .onnx whose external weights.bin holds the same weights (onnxruntime-node). */
  onnx: string;
}

export async function loadEngine(name: 'vitnode' | 'vitnode-bf16' | 'ort', model: string, paths: EnginePaths, threads: number): Promise<Engine> {
  if (name === 'vitnode' || name === 'vitnode-bf16') {
    const { createModel, Tensor } = await import('../lib/index.ts');
    // vitnode-bf16: the opt-in bfloat16 GEMMs (AVX512-BF16), not timm's float32 numbers.
    const dtype = name === 'vitnode-bf16' ? 'bfloat16' : 'float32';
    const m = await createModel(model, { checkpoint: paths.checkpoint, threads, dtype });
    const size = m.config.imgSize;
    const chans = m.config.inChans;
    return {
      name,
      version: name === 'vitnode' ? 'vitnode (oneDNN CPU)' : 'vitnode (oneDNN CPU, bfloat16 GEMMs)',
      async run(x, batch) {
        return (await m.forward(Tensor.fromFloat32(x, [batch, chans, size[0], size[1]]))).data;
      },
      dispose: () => m.dispose(),
    };
  }
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(paths.onnx, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  return {
    name,
    version: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    async run(x, batch) {
      const hw = x.length / batch / 3;
      const side = Math.round(Math.sqrt(hw));
      const feeds = { [input]: new ort.Tensor('float32', x, [batch, 3, side, side]) };
      const out = await session.run(feeds);
      return out[output].data as Float32Array;
    },
    dispose: () => session.release(),
  };
}
