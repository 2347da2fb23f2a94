// Loads a checkpoint into native memory with timm's filter semantics (vision_transformer.py
// checkpoint_filter_fn, seed and modern; load_pretrained's head / in_chans rules), strictly: every missing,
// unexpected or mis-shaped key is reported together.
import type { NativeWeightStore } from '../binding.ts';
import { VitError } from '../errors.ts';
import type { ModelModule } from '../models/index.ts';
import { adaptInputConv, resamplePosEmbed, type ResampleMode } from './adapt.ts';
import { initParam } from './init.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { resamplePatchEmbed } from './patch-resample.ts';
import type { CheckpointTensor } from './checkpoint-tensor.ts';
import { toFloat32 } from './safetensors.ts';
import { formatSummary, summariseStateDict, summaryDiff } from './summary.ts';

export interface LoadReport {
  /** False when no checkpoint was loaded: the weights are a seeded random initialisation. */
  pretrained: boolean;
  /** The weights file loaded, if any. */
  checkpoint?: string;
  loaded: number;
  /** Keys adapted on load (resampled, reshaped, channel-adapted). */
  adapted: string[];
  /** Classifier keys initialised fresh because the checkpoint's class count differs. */
  reinitialised: string[];
  /** Checkpoint keys dropped by timm's rules (e.g. seed representation layers in modern models). */
  dropped: string[];
}

export type { CheckpointTensor } from './checkpoint-tensor.ts';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Opens a checkpoint (safetensors, .pth / .bin, .npz, model folder; by content) as a key -> tensor map. */
export function readCheckpoint(path: string): Checkpoint {
  return openCheckpoint(path);
}

/** timm filter: unwrap container prefixes, then the model class's own renames and drops (ModelModule.filterKey). */
export function filterKeys(raw: Map<string, CheckpointTensor>, model: ModelModule, report: LoadReport) {
  let unwrapped = new Map<string, CheckpointTensor>();
  for (let [key, t] of raw) {
    for (const p of ['module.', 'model.', 'state_dict.']) if (key.startsWith(p)) key = key.slice(p.length);
    unwrapped.set(key, t);
  }
  if (model.convertCheckpoint) {
    const c = model.convertCheckpoint(unwrapped);
    report.dropped.push(...c.dropped);
    unwrapped = c.tensors;
  }
  const out = new Map<string, CheckpointTensor>();
  for (const [key, t] of unwrapped) {
    const k = model.filterKey(key);
    if (k === null) report.dropped.push(key);
    else out.set(k, t);
  }
  return out;
}

export function loadCheckpoint(path: string, model: ModelModule, store: NativeWeightStore, seed = 0): LoadReport {
  const ckpt = readCheckpoint(path);
  try {
    return { ...loadTensors(ckpt.tensors, model, store, seed, ckpt), checkpoint: path };
  } finally {
    ckpt.close();
  }
}

/** How the checkpoint format's own loader resamples, where it has its own rules (timm's .npz loader: bilinear, no
 *  antialias, for pos_embed and for a patch embedding of another patch size). */
export interface FormatResample {
  posResample?: ResampleMode;
  /** Unset: a patch embedding of another spatial size is a mismatch (timm's state_dict filter resamples it
   *  bicubic + antialias, which is not implemented). */
  patchResample?: ResampleMode;
}

export function loadTensors(raw: Map<string, CheckpointTensor>, model: ModelModule, store: NativeWeightStore, seed = 0,
  { posResample, patchResample }: FormatResample = {}): LoadReport {
  const report: LoadReport = { pretrained: true, loaded: 0, adapted: [], reinitialised: [], dropped: [] };
  const tensors = filterKeys(raw, model, report);
  const specs = new Map(model.parameters().map((p) => [p.key, p]));
  const expected = new Map(model.params());
  const cfg = model.cfg;
  const problems: string[] = [];
  const heads = ['head', 'head_dist'].flatMap((h) => [`${h}.weight`, `${h}.bias`]);

  // Heads: timm drops the classifier when the class count differs (load_pretrained) and initialises it anew.
  const ckptHead = tensors.get('head.weight');
  const headMismatch = ckptHead ? !sameShape(ckptHead.shape, expected.get('head.weight') ?? []) : false;

  for (const [key, t] of tensors) {
    const want = expected.get(key);
    if (heads.includes(key) && (headMismatch || !want)) {
      report.dropped.push(key);
      continue;
    }
    if (!want) {
      // timm loads some architectures non-strictly (SigLIP towers without the map head): extra keys are dropped.
      if (model.cfg.load.strict) problems.push(`unexpected key '${key}' ${fmt(t.shape)}`);
      else report.dropped.push(key);
      continue;
    }
    let shape = t.shape;
    if (key === 'patch_embed.proj.weight' && shape.length < 4 && !cfg.backbone) {
      // Old checkpoints with a linear patch projection [D, C*P*P]: view as conv [D, C, P, P].
      const P = cfg.patchSize;
      const n = shape.reduce((a, b) => a * b, 1);
      shape = [shape[0], n / shape[0] / (P * P), P, P];
      report.adapted.push(key);
    }
    // in_chans adaptation applies to the first conv: the patch projection, or a hybrid's backbone stem conv; then
    // (timm's order) a patch projection of another patch size is resampled where the format's loader does that.
    const firstConv = `${model.patchEmbed.firstConv}.weight`;
    const adaptIn = key === firstConv && shape.length === 4 && shape[1] !== cfg.inChans;
    const resize = key === 'patch_embed.proj.weight' && patchResample !== undefined && shape.length === 4 && want.length === 4 &&
      (shape[2] !== want[2] || shape[3] !== want[3]);
    if (adaptIn || resize) {
      let a = { data: toFloat32(t.read(), t.dtype), shape };
      if (adaptIn) a = adaptInputConv(cfg.inChans, a.data, a.shape);
      if (resize) a = resamplePatchEmbed(a.data, a.shape, [want[2], want[3]], patchResample!);
      report.adapted.push(key);
      if (!sameShape(a.shape, want)) problems.push(`'${key}': checkpoint ${fmt(t.shape)} cannot become ${fmt(want)}`);
      else store.set(key, a.shape, a.data);
      continue;
    }
    if (key === 'pos_embed' && !sameShape(shape, want)) {
      const data = resamplePos(toFloat32(t.read(), t.dtype), shape, want, model, posResample);
      if (!data) problems.push(`'pos_embed': checkpoint ${fmt(shape)} cannot be resampled to ${fmt(want)}`);
      else {
        store.set(key, want, data);
        report.adapted.push(key);
      }
      continue;
    }
    if (!sameShape(shape, want)) {
      const why = key === 'patch_embed.proj.weight' && shape.length === 4 && !patchResample
        ? ' (another patch size: resampling it, timm resample_patch_embed, is implemented for .npz checkpoints only)' : '';
      problems.push(`'${key}': checkpoint has ${fmt(t.shape)}, model expects ${fmt(want)}${why}`);
      continue;
    }
    store.set(key, shape, t.read(), t.dtype);
    report.loaded++;
  }
  for (const [key, shape] of expected) {
    if (store.has(key)) continue;
    // Present but unusable (mis-shaped, not resamplable): already reported above.
    if (tensors.has(key) && !(heads.includes(key) && headMismatch)) continue;
    if (heads.includes(key) && (headMismatch || !tensors.has(key)) && ckptHead) {
      store.set(key, shape, initParam(specs.get(key)!, seed));
      report.reinitialised.push(key);
      continue;
    }
    problems.push(`missing key '${key}' ${fmt(shape)}`);
  }
  if (problems.length) throw fitError(raw, model, problems);
  return report;
}

/** pos_embed resampling on load: seed = bilinear, one prefix token; modern = bicubic + antialias. */
function resamplePos(data: Float32Array, from: number[], to: readonly number[], model: ModelModule, mode?: ResampleMode): Float32Array | null {
  if (from.length !== 3 || to.length !== 3 || from[2] !== to[2]) return null;
  const legacy = model.cfg.era === 'legacy';
  const prefix = legacy ? 1 : model.tokens.posPrefixTokens;
  if (legacy && model.tokens.numPrefixTokens !== 1) return null; // the seed's resize_pos_embed cannot handle dist tokens
  const old = Math.floor(Math.sqrt(from[1] - prefix));
  if (old * old !== from[1] - prefix) return null;
  const grid = model.patchEmbed.gridSize;
  if (prefix + grid[0] * grid[1] !== to[1]) return null;
  return resamplePosEmbed(data, from[2], prefix, [old, old], grid, mode ?? model.cfg.load.posResample ?? (legacy ? 'bilinear' : 'bicubic_aa'));
}

/** Problems listed in an error message; the whole list is on the error (`problems`). */
export const SHOWN_PROBLEMS = 10;

export type CheckpointFitError = VitError & { diagnosis: string; problems: string[] };

/** One-line diagnosis (what the checkpoint is vs what the model expects), then the first problems and a count. */
function fitError(raw: Map<string, CheckpointTensor>, model: ModelModule, problems: string[]): CheckpointFitError {
  const got = summariseStateDict([...raw].map(([k, t]) => [k, t.shape] as const));
  const want = summariseStateDict(model.params(), model.cfg.numHeads);
  const diff = summaryDiff(got, want);
  const diagnosis = `checkpoint does not fit the model: the checkpoint is ${formatSummary(got)}; the model expects ${formatSummary(want)}` +
    (diff.length ? ` (differs: ${diff.join(', ')})` : '');
  const n = problems.length;
  const shown = problems.slice(0, SHOWN_PROBLEMS);
  const more = n > shown.length ? `\n  ... and ${n - shown.length} more (the error's \`problems\`; --verbose in the CLI)` : '';
  const msg = `${diagnosis}\n${n} problem${n > 1 ? 's' : ''}:\n  ${shown.join('\n  ')}${more}`;
  return Object.assign(new VitError('VIT_E_CHECKPOINT', msg), { diagnosis, problems });
}
