// Class names for a model's head, as timm's ImageNetInfo / infer_imagenet_subset resolve them:
// the model's own `label_names` (HF config) first, else by head size: 1000 -> ImageNet-1k, 21843 -> Google's
// ImageNet-21k, 11821 -> timm's ImageNet-12k. WordNet ids (synsets) are mapped to their short English name.
import type { PretrainedCfg } from '../models/config.ts';
import { IMAGENET_1K } from './data/imagenet1k.ts';

export interface ClassLabel {
  /** Short human-readable name (the first WordNet lemma for synset ids), or the index as a string. */
  label: string;
  /** WordNet id, where the class is an ImageNet synset. */
  synset?: string;
  /** All lemmas / the HF config's label_descriptions entry. */
  description?: string;
}

export type LabelSubset = 'imagenet-1k' | 'imagenet-21k-goog' | 'imagenet-12k';

const SUBSET_BY_CLASSES: Record<number, LabelSubset> = { 1000: 'imagenet-1k', 21843: 'imagenet-21k-goog', 11821: 'imagenet-12k' };
const SYNSET = /^n\d{8}$/;

function parse(lines: string): [string, string][] {
  return lines.split('\n').map((l) => l.split('\t') as [string, string]);
}

let in1k: [string, string][] | undefined;
let lemmas: Map<string, string> | undefined;

function imagenet1k(): [string, string][] {
  return (in1k ??= parse(IMAGENET_1K));
}

/** Every synset's lemmas (loads the 21k table on first use). */
async function allLemmas(): Promise<Map<string, string>> {
  if (!lemmas) {
    const { IMAGENET_21K } = await import('./data/imagenet21k.ts');
    lemmas = new Map([...parse(IMAGENET_21K), ...imagenet1k()]);
  }
  return lemmas;
}

const short = (lemma: string) => lemma.split(',')[0].trim();

function fromSynsets(ids: string[], table: Map<string, string>): ClassLabel[] {
  return ids.map((s) => {
    const d = table.get(s);
    return d ? { label: short(d), synset: s, description: d } : { label: s, synset: s };
  });
}

/** The ImageNet-1k class names (index order), built in. */
export function imagenet1kLabels(): ClassLabel[] {
  return imagenet1k().map(([s, d]) => ({ label: short(d), synset: s, description: d }));
}

/** Which ImageNet subset a head of `numClasses` (or a cfg's label set) corresponds to, if any. */
export function inferSubset(numClasses: number): LabelSubset | undefined {
  return SUBSET_BY_CLASSES[numClasses];
}

/** Labels for a model's classes (length numClasses). */
export async function labelsFor(cfg: Partial<PretrainedCfg>, numClasses: number): Promise<ClassLabel[]> {
  const names = cfg.label_names;
  if (Array.isArray(names) && names.length === numClasses) {
    const desc = (cfg.label_descriptions ?? {}) as Record<string, string>;
    const table = names.some((n) => SYNSET.test(n)) ? await allLemmas() : new Map<string, string>();
    return names.map((n) => {
      const d = desc[n] ?? table.get(n);
      if (SYNSET.test(n)) return { label: d ? short(d) : n, synset: n, ...(d ? { description: d } : {}) };
      return { label: n, ...(d ? { description: d } : {}) };
    });
  }
  const subset = inferSubset(numClasses);
  if (subset === 'imagenet-1k') return imagenet1kLabels();
  if (subset === 'imagenet-21k-goog') {
    const { IMAGENET_21K } = await import('./data/imagenet21k.ts');
    return fromSynsets(parse(IMAGENET_21K).slice(0, 21843).map(([s]) => s), await allLemmas());
  }
  if (subset === 'imagenet-12k') {
    const { IMAGENET_12K } = await import('./data/imagenet12k.ts');
    return fromSynsets(IMAGENET_12K.split('\n'), await allLemmas());
  }
  return Array.from({ length: numClasses }, (_, i) => ({ label: String(i) }));
}
