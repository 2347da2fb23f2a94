// The public model: a timm-named module tree + weights in native memory + one compiled program per input
// shape and output set. Every forward is one async native call.
import { availableParallelism } from 'node:os';
import { binding, type DeviceSpec, type NativeProgram, type NativeWeightStore } from './binding.ts';
import { nativeError, VitError } from './errors.ts';
import { GraphBuilder, type Sym } from './graph/builder.ts';
import type { PretrainedCfg, VitConfig } from './models/config.ts';
import { createModelModule, type ModelModule } from './models/index.ts';
import { forwardHeadOptionsSchema, intermediatesOptionsSchema, parseOptions, runRequestSchema, type IntermediatesOptions } from './options.ts';
import { originLabel, type ModelOrigin } from './origin.ts';
import { Tensor } from './tensor.ts';
import { initParam } from './weights/init.ts';
import * as images from './image-api.ts';
import type { ClassifyOptions, FeatureInfo, FeaturesOptions, FeaturesResult, ImageTaskOptions, Prediction } from './image-api.ts';
import type { ImageError, ImageInput } from './preprocess/index.ts';

export type OutputName = 'logits' | 'features' | 'pre_logits' | 'intermediates';

export interface RunRequest<O extends OutputName = OutputName> {
  outputs: readonly O[];
  intermediates?: IntermediatesOptions;
}

/** What run() resolves with: a Tensor per output asked for, a Tensor[] for 'intermediates'. */
export type RunResult<O extends OutputName = OutputName> = { [K in O]: K extends 'intermediates' ? Tensor[] : Tensor };

export class VitModel {
  private module: ModelModule;
  private programs = new Map<string, NativeProgram>();
  private disposed = false;
  private featureOut: number | number[] = 3;
  private featureMode = false;
  /** Where the model came from (set by createModel). */
  origin?: ModelOrigin;

  constructor(
    readonly name: string,
    config: VitConfig,
    readonly pretrainedCfg: PretrainedCfg,
    private weights: NativeWeightStore,
    private device: DeviceSpec,
    private threads: number,
    private seed: number,
  ) {
    this.module = createModelModule(config);
  }

  get config(): VitConfig {
    return this.module.cfg;
  }
  get numClasses(): number {
    return this.module.cfg.numClasses;
  }
  get numFeatures(): number {
    return this.module.numFeatures;
  }
  get embedDim(): number {
    return this.module.embedDim;
  }
  get numPrefixTokens(): number {
    return this.module.tokens.numPrefixTokens;
  }
  get patchSize(): number {
    return this.module.cfg.patchSize;
  }
  /** The name with its source for messages: 'vit_base_patch16_224 (folder examples/digits, custom model_args: ...)'. */
  get label(): string {
    return originLabel(this.name, this.origin);
  }
  /** timm's state_dict(): every weight by its key, in timm's order (copies of the loaded, adapted float32 weights). */
  stateDict(): Map<string, Tensor> {
    const s = this.store();
    return new Map(this.module.params().map(([k]) => [k, new Tensor(s.get(k), s.shape(k))]));
  }
  /** timm's state_dict keys and shapes, without copying weights. */
  stateDictShapes(): [string, number[]][] {
    return this.module.params();
  }
  /** A copy of one loaded (adapted) weight by its timm state_dict key. */
  getWeight(key: string): Tensor {
    const s = this.store();
    if (!s.has(key)) throw new VitError('VIT_E_ARGUMENT', `model ${this.name} has no weight '${key}'`);
    return new Tensor(s.get(key), s.shape(key));
  }
  /** Host bytes held by the weights (float32). */
  get weightBytes(): number {
    return this.store().bytes();
  }

  /** Logits [B, numClasses] (timm `model(x)`; distilled: mean of both heads). */
  async forward(x: Tensor): Promise<Tensor> {
    if (this.featureMode) throw new VitError('VIT_E_UNSUPPORTED', `${this.name} was created with featuresOnly: use forwardFeatureMaps(x) or features(images)`);
    return (await this.run(x, { outputs: ['logits'] })).logits as Tensor;
  }

  /** timm forward_features: the normed token sequence [B, T, D] (legacy models: the pooled pre-logits). */
  async forwardFeatures(x: Tensor): Promise<Tensor> {
    const key = this.module.cfg.era === 'legacy' ? 'pre_logits' : 'features';
    return (await this.run(x, { outputs: [key] }))[key] as Tensor;
  }

  /** timm forward_head on a features tensor from forwardFeatures. */
  async forwardHead(features: Tensor, opts: { preLogits?: boolean } = {}): Promise<Tensor> {
    this.ensureLive();
    const { preLogits } = parseOptions(forwardHeadOptionsSchema, opts, 'forwardHead options');
    if (!(features instanceof Tensor)) throw new VitError('VIT_E_ARGUMENT', 'forwardHead expects a Tensor');
    if (this.module.cfg.era === 'legacy') throw new VitError('VIT_E_UNSUPPORTED', 'forwardHead is a modern timm API; legacy models pool in forwardFeatures');
    const T = this.module.seqLen;
    const s = features.shape;
    if (s.length !== 3 || s[2] !== this.embedDim || s[1] < this.module.tokens.numPrefixTokens + 1 || (!this.config.dynamicImgSize && s[1] !== T)) {
      throw new VitError('VIT_E_SHAPE', `forwardHead expects features [B, ${T}, ${this.embedDim}], got [${s.join(', ')}]`);
    }
    const key = `head|${s.join('x')}|${preLogits}`;
    const prog = this.program(key, () => {
      const g = new GraphBuilder();
      const f = g.input(s);
      const out = this.module.buildHead(g, f);
      g.output('out', preLogits ? out.preLogits : out.logits);
      return g;
    });
    const [o] = await this.exec(prog, features.data);
    return new Tensor(o.data, o.shape);
  }

  /** timm forward_intermediates: the maps alone with `intermediatesOnly: true`, else with the final features. */
  forwardIntermediates(x: Tensor, opts: IntermediatesOptions & { intermediatesOnly: true }): Promise<Tensor[]>;
  forwardIntermediates(x: Tensor, opts?: IntermediatesOptions & { intermediatesOnly?: false }): Promise<{ features: Tensor; intermediates: Tensor[] }>;
  forwardIntermediates(x: Tensor, opts?: IntermediatesOptions): Promise<Tensor[] | { features: Tensor; intermediates: Tensor[] }>;
  async forwardIntermediates(
    x: Tensor,
    opts: IntermediatesOptions = {},
  ): Promise<Tensor[] | { features: Tensor; intermediates: Tensor[] }> {
    const o = parseOptions(intermediatesOptionsSchema, opts, 'forwardIntermediates options');
    const out = await this.run(x, { outputs: o.intermediatesOnly ? ['intermediates'] : ['features', 'intermediates'], intermediates: opts });
    const inter = out.intermediates as Tensor[];
    return o.intermediatesOnly ? inter : { features: out.features as Tensor, intermediates: inter };
  }

  /** Several outputs of one forward pass in one native call (the CLI's `--outputs`), typed by the outputs asked for. */
  async run<O extends OutputName>(x: Tensor, request: RunRequest<O>): Promise<RunResult<O>> {
    this.ensureLive();
    const req = parseOptions(runRequestSchema, request, 'run request') as { outputs: OutputName[]; intermediates?: IntermediatesOptions };
    this.checkInput(x);
    const io = parseOptions(intermediatesOptionsSchema, req.intermediates ?? {}, 'intermediates options');
    const indices = req.outputs.includes('intermediates') ? this.takeIndices(io.indices) : [];
    const key = `fwd|${x.shape.join('x')}|${req.outputs.join(',')}|${indices.join(',')}|${io.norm}|${io.outputFmt}|${io.stopEarly}`;
    const prog = this.program(key, () => {
      const g = new GraphBuilder();
      const input = g.input(x.shape);
      const headOnly = req.outputs.every((o) => o === 'logits' || o === 'pre_logits') && this.pruneLastBlock();
      const keep = headOnly ? (this.module.headTokens ?? undefined) : undefined;
      const inter = { indices, norm: io.norm, outputFmt: io.outputFmt, stopEarly: io.stopEarly };
      const { features, intermediates } = this.module.buildFeatures(g, input, inter, keep);
      const needHead = req.outputs.includes('logits') || req.outputs.includes('pre_logits');
      const head = needHead ? this.module.buildHead(g, features) : null;
      for (const name of req.outputs) {
        if (name === 'features') g.output('features', features);
        else if (name === 'logits') g.output('logits', head!.logits);
        else if (name === 'pre_logits') g.output('pre_logits', head!.preLogits);
        else intermediates.forEach((s: Sym, i: number) => g.output(`intermediates.${i}`, s));
      }
      return g;
    });
    const outs = await this.exec(prog, x.data);
    const result: Partial<Record<OutputName, Tensor | Tensor[]>> = {};
    for (const o of outs) {
      const t = new Tensor(o.data, o.shape);
      if (o.name.startsWith('intermediates.')) ((result.intermediates ??= []) as Tensor[]).push(t);
      else result[o.name as OutputName] = t;
    }
    if (req.outputs.includes('intermediates')) result.intermediates ??= [];
    return result as RunResult<O>;
  }

  /**
   * Whether a logits-only forward computes just the head's tokens in the last block. On by default on CPU;
   * CUDA waits for a GPU run to verify its `queries` kernels. VITNODE_PRUNE_LAST_BLOCK=0/1 overrides (A/B runs).
   */
  private pruneLastBlock(): boolean {
    const env = process.env.VITNODE_PRUNE_LAST_BLOCK;
    if (env === '0' || env === '1') return env === '1';
    return this.device.device === 'cpu';
  }

  /** The classifier's weights (timm get_classifier; distilled: both heads). */
  getClassifier(): { name: string; weight: Tensor; bias: Tensor }[] {
    this.ensureLive();
    return this.module.classifiers.map((h) => ({
      name: h.prefix,
      weight: new Tensor(this.store().get(`${h.prefix}.weight`), [h.outFeatures, h.inFeatures]),
      bias: new Tensor(this.store().get(`${h.prefix}.bias`), [h.outFeatures]),
    }));
  }

  /** timm reset_classifier: a new (freshly initialised) head, or none for numClasses 0; optionally a new pool. */
  resetClassifier(numClasses: number, globalPool?: VitConfig['globalPool']): void {
    this.ensureLive();
    const next = createModelModule(this.module.resetClassifierConfig(numClasses, globalPool));
    for (const h of next.classifiers) {
      for (const p of h.parameters()) this.weights.set(p.key, p.shape, initParam(p, this.seed));
    }
    this.module = next;
    this.clearPrograms();
  }

  /** True when created with `featuresOnly` (timm features_only: block feature maps, no head). */
  get featuresOnly(): boolean {
    return this.featureMode;
  }
  /** The blocks features() / forwardFeatureMaps() take by default (timm out_indices; default: the last 3). */
  get featureIndices(): number | number[] {
    return this.featureOut;
  }
  /** timm feature_info for the default feature blocks (featuresOnly) or every block. */
  get featureInfo(): FeatureInfo[] {
    return this.featureInfoFor(this.featureMode ? this.featureOut : this.module.cfg.depth);
  }
  featureInfoFor(outIndices: number | number[] = this.featureOut): FeatureInfo[] {
    return this.takeIndices(outIndices).map((i) => ({ index: i, module: `blocks.${i}`, channels: this.embedDim, reduction: this.module.reduction }));
  }
  /** @internal createModel({ featuresOnly, outIndices }). */
  setFeaturesOnly(outIndices: number | number[] = 3): void {
    this.takeIndices(outIndices);
    this.featureOut = outIndices;
    this.featureMode = true;
  }
  /** timm features_only forward: NCHW maps of the feature blocks (forward_intermediates, intermediates_only). */
  async forwardFeatureMaps(x: Tensor): Promise<Tensor[]> {
    return (await this.forwardIntermediates(x, { indices: this.featureOut, intermediatesOnly: true })) as Tensor[];
  }

  /** Top-k classes per image (softmax scores): paths, encoded Buffers or raw pixels, preprocessed as timm does. */
  classify(imgs: ImageInput | readonly ImageInput[], opts?: ClassifyOptions & { errors?: 'throw' }): Promise<Prediction[][]>;
  classify(imgs: ImageInput | readonly ImageInput[], opts: ClassifyOptions & { errors: 'return' }): Promise<(Prediction[] | ImageError)[]>;
  classify(imgs: ImageInput | readonly ImageInput[], opts: ClassifyOptions = {}): Promise<(Prediction[] | ImageError)[]> {
    this.ensureLive();
    if (this.featureMode) return Promise.reject(new VitError('VIT_E_UNSUPPORTED', `${this.name} was created with featuresOnly (no head)`));
    return images.classify(this, imgs, opts);
  }
  /** Pre-logits embeddings [N, numFeatures] of images. */
  embed(imgs: ImageInput | readonly ImageInput[], opts: ImageTaskOptions = {}): Promise<Tensor> {
    this.ensureLive();
    if (this.featureMode) return Promise.reject(new VitError('VIT_E_UNSUPPORTED', `${this.name} was created with featuresOnly (no head)`));
    return images.embed(this, imgs, opts);
  }
  /** Block feature maps of images with their timm feature_info. */
  features(imgs: ImageInput | readonly ImageInput[], opts: FeaturesOptions = {}): Promise<FeaturesResult> {
    this.ensureLive();
    return images.features(this, imgs, opts);
  }

  dispose(): void {
    if (this.disposed) return;
    this.clearPrograms();
    this.weights.dispose();
    this.disposed = true;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  private store(): NativeWeightStore {
    this.ensureLive();
    return this.weights;
  }

  private ensureLive(): void {
    if (this.disposed) throw new VitError('VIT_E_DISPOSED', `model ${this.name} was disposed`);
  }

  private clearPrograms(): void {
    for (const p of this.programs.values()) p.dispose();
    this.programs.clear();
  }

  private program(key: string, build: () => GraphBuilder): NativeProgram {
    let p = this.programs.get(key);
    if (!p) {
      const g = build();
      const spec = g.spec();
      // Derived weights (RoPE tables, assembled biases) enter the store once, under their internal keys.
      for (const [k, d] of g.derived) {
        if (this.weights.has(k)) continue;
        const data = d.make((key) => this.weights.get(key));
        this.weights.set(k, d.shape, data);
      }
      try {
        p = new binding.Program(spec, this.weights, this.device);
      } catch (err) {
        throw nativeError(err, new Error().stack);
      }
      this.programs.set(key, p);
    }
    return p;
  }

  private async exec(prog: NativeProgram, data: Float32Array) {
    const stack = new Error().stack;
    try {
      return await prog.run([data], this.threads);
    } catch (err) {
      throw nativeError(err, stack);
    }
  }

  private takeIndices(indices: number | number[] | undefined): number[] {
    const depth = this.module.cfg.depth;
    if (indices === undefined) return [...Array(depth).keys()];
    if (typeof indices === 'number') {
      if (indices > depth) throw new VitError('VIT_E_ARGUMENT', `cannot take the last ${indices} of ${depth} blocks`);
      return [...Array(indices).keys()].map((i) => depth - indices + i);
    }
    return indices.map((i) => {
      const a = i < 0 ? depth + i : i;
      if (a < 0 || a >= depth) throw new VitError('VIT_E_ARGUMENT', `block index ${i} out of range for depth ${depth}`);
      return a;
    });
  }

  private checkInput(x: Tensor): void {
    if (!(x instanceof Tensor)) throw new VitError('VIT_E_ARGUMENT', 'input must be a Tensor (Tensor.fromFloat32(data, [B, C, H, W]))');
    const cfg = this.module.cfg;
    const s = x.shape;
    if (s.length !== 4) throw new VitError('VIT_E_SHAPE', `input must be [B, C, H, W], got rank ${s.length} [${s.join(', ')}]`);
    if (s[0] < 1) throw new VitError('VIT_E_SHAPE', 'batch size must be at least 1');
    if (s[1] !== cfg.inChans) throw new VitError('VIT_E_SHAPE', `model expects ${cfg.inChans} input channels, got ${s[1]}`);
    const p = this.module.reduction;
    if (!cfg.dynamicImgSize) {
      if (s[2] !== cfg.imgSize[0] || s[3] !== cfg.imgSize[1]) {
        throw new VitError('VIT_E_SHAPE', `model expects ${cfg.imgSize[0]}x${cfg.imgSize[1]} images, got ${s[2]}x${s[3]} (create it with imgSize or dynamicImgSize: true)`);
      }
    } else if (!cfg.dynamicImgPad && (s[2] % p || s[3] % p)) {
      throw new VitError('VIT_E_SHAPE', `image size ${s[2]}x${s[3]} is not a multiple of the patch size ${p} (use dynamicImgPad: true)`);
    }
    if (s[2] < p || s[3] < p) throw new VitError('VIT_E_SHAPE', `image ${s[2]}x${s[3]} is smaller than one ${p}px patch`);
  }
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}
