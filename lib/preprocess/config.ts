// timm's resolve_data_config(pretrained_cfg=...) + create_transform(is_training=False) as a data description and
// a per-image geometric plan (resize size, crop / pad box), with timm's and torchvision's exact integer rules.
import { VitError } from '../errors.ts';
import type { PretrainedCfg } from '../models/config.ts';
import type { Interpolation } from './resample.ts';

export type CropMode = 'center' | 'squash' | 'border';

/** What timm's resolve_data_config returns (camelCase). */
export interface DataConfig {
  /** [C, H, W] */
  inputSize: [number, number, number];
  interpolation: Interpolation;
  mean: [number, number, number];
  std: [number, number, number];
  cropPct: number;
  cropMode: CropMode;
}

const IMAGENET_DEFAULT_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_DEFAULT_STD: [number, number, number] = [0.229, 0.224, 0.225];
const DEFAULT_CROP_PCT = 0.875;
const INTERPOLATIONS: Interpolation[] = ['nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos'];

export type DataConfigOverrides = Partial<DataConfig>;

function triple(v: unknown, what: string, inChans: number): [number, number, number] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new VitError('VIT_E_ARGUMENT', `pretrained cfg ${what} must be a list of numbers, got ${JSON.stringify(v)}`);
  }
  const a = v.length === 1 ? [v[0], v[0], v[0]] : v;
  if (a.length !== 3 || inChans !== 3) {
    throw new VitError('VIT_E_UNSUPPORTED', `image preprocessing produces 3-channel RGB; ${what} has ${v.length} values for ${inChans} input channels`);
  }
  return [a[0], a[1], a[2]];
}

/** timm resolve_data_config(pretrained_cfg=cfg) (+ explicit overrides, like its `args`). */
export function resolveDataConfig(cfg: Partial<PretrainedCfg> = {}, overrides: DataConfigOverrides = {}): DataConfig {
  const inputSize = (overrides.inputSize ?? cfg.input_size ?? [3, 224, 224]) as [number, number, number];
  if (!Array.isArray(inputSize) || inputSize.length !== 3 || !inputSize.every((x) => Number.isInteger(x) && x > 0)) {
    throw new VitError('VIT_E_ARGUMENT', `input_size must be [C, H, W] positive integers, got ${JSON.stringify(inputSize)}`);
  }
  const interpolation = (overrides.interpolation ?? cfg.interpolation ?? 'bicubic') as Interpolation;
  if (!INTERPOLATIONS.includes(interpolation)) {
    throw new VitError('VIT_E_UNSUPPORTED', `interpolation '${interpolation}' (supported: ${INTERPOLATIONS.join(', ')})`);
  }
  const cropMode = (overrides.cropMode ?? cfg.crop_mode ?? 'center') as CropMode;
  if (!['center', 'squash', 'border'].includes(cropMode)) {
    throw new VitError('VIT_E_UNSUPPORTED', `crop_mode '${cropMode}' (supported: center, squash, border)`);
  }
  // transforms_imagenet_eval: `crop_pct = crop_pct or DEFAULT_CROP_PCT`
  const cropPct = overrides.cropPct ?? cfg.crop_pct ?? DEFAULT_CROP_PCT;
  if (typeof cropPct !== 'number' || !(cropPct >= 0)) throw new VitError('VIT_E_ARGUMENT', `crop_pct must be a positive number, got ${cropPct}`);
  return {
    inputSize: [inputSize[0], inputSize[1], inputSize[2]],
    interpolation,
    mean: triple(overrides.mean ?? cfg.mean ?? IMAGENET_DEFAULT_MEAN, 'mean', inputSize[0]),
    std: triple(overrides.std ?? cfg.std ?? IMAGENET_DEFAULT_STD, 'std', inputSize[0]),
    cropPct: cropPct || DEFAULT_CROP_PCT,
    cropMode,
  };
}

/** Python's round(): half to even. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The geometric steps timm's eval transform applies to a width x height image. */
export interface TransformPlan {
  /** Resize target [width, height], or null when the image keeps its size (torchvision returns it unchanged). */
  resize: [number, number] | null;
  interpolation: Interpolation;
  /** Zero / fill padding (left, top, right, bottom) applied after the resize (center crop of a small image). */
  pad: [number, number, number, number];
  /** Pad colour per channel (uint8): 0 for torchvision CenterCrop, round(255 * mean) for timm's CenterCropOrPad. */
  fill: [number, number, number];
  /** Crop box in the (padded) resized image. */
  crop: { left: number; top: number; width: number; height: number };
}

export function planTransform(width: number, height: number, dc: DataConfig): TransformPlan {
  const [, H, W] = dc.inputSize;
  const scale: [number, number] = [Math.floor(H / dc.cropPct), Math.floor(W / dc.cropPct)]; // (h, w)
  let size: [number, number]; // (h, w) after resize
  let interpolation = dc.interpolation;
  let fill: [number, number, number] = [0, 0, 0];
  if (dc.cropMode === 'squash') {
    size = scale;
  } else if (dc.cropMode === 'border') {
    size = keepRatio(height, width, scale, 1);
    fill = dc.mean.map((v) => pyRound(255 * v)) as [number, number, number];
  } else if (scale[0] === scale[1]) {
    // torchvision Resize(int): shorter side -> size, longer side int(size * long / short)
    const s = scale[0];
    if (width <= height) size = [Math.trunc((s * height) / width), s];
    else size = [s, Math.trunc((s * width) / height)];
  } else {
    // timm ResizeKeepRatio(scale_size): shortest edge, and (timm quirk) its default 'bilinear' interpolation
    size = keepRatio(height, width, scale, 0);
    interpolation = 'bilinear';
  }
  const [rh, rw] = size;
  // torchvision center_crop / timm center_crop_or_pad
  const pad: [number, number, number, number] = [
    W > rw ? Math.floor((W - rw) / 2) : 0,
    H > rh ? Math.floor((H - rh) / 2) : 0,
    W > rw ? Math.floor((W - rw + 1) / 2) : 0,
    H > rh ? Math.floor((H - rh + 1) / 2) : 0,
  ];
  const ph = rh + pad[1] + pad[3];
  const pw = rw + pad[0] + pad[2];
  const crop = { top: pyRound((ph - H) / 2), left: pyRound((pw - W) / 2), width: W, height: H };
  return { resize: rh === height && rw === width ? null : [rw, rh], interpolation, pad, fill, crop };
}

/** timm ResizeKeepRatio.get_params (no randomness). Returns (h, w). */
function keepRatio(h: number, w: number, target: [number, number], longest: number): [number, number] {
  const ratioH = h / target[0];
  const ratioW = w / target[1];
  const ratio = Math.max(ratioH, ratioW) * longest + Math.min(ratioH, ratioW) * (1 - longest);
  return [pyRound(h / ratio), pyRound(w / ratio)];
}
