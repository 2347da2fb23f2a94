// Which registry architectures a checkpoint fits: its keys and shapes (after timm's key-level filter rules) against
// every registry name's expected state_dict. Differences timm's loader absorbs are reported, not counted against a
// fit: the classifier's class count (head dropped + re-initialised), the pos_embed token count (resampled), a
// linear patch projection (reshaped), representation layers (pre_logits, dropped by modern models).
import { expectedStateDict, listModels, resolveModel } from '../registry/index.ts';
import { summariseStateDict, summaryDiff } from './summary.ts';

export interface Fit {
  name: string;
  /** Exact fit up to the absorbed differences listed in `notes`. */
  exact: boolean;
  matched: number;
  missing: string[];
  unexpected: string[];
  mismatched: string[];
  notes: string[];
  /** Ranking: exact fits first, then shape agreement minus structural distance. */
  score: number;
  /** Structure that differs, checkpoint vs architecture ('depth 4 vs 12', 'width 96 vs 192', ...). */
  differs: string[];
}

/** timm's key-level rules: container prefixes stripped, DeiT-III gamma_N -> lsN.gamma (applied when `layerScale`). */
export function normaliseKey(key: string, layerScale = true): string {
  for (const p of ['module.', 'model.', 'state_dict.']) if (key.startsWith(p)) key = key.slice(p.length);
  return layerScale ? key.replace(/\.gamma_([12])$/, '.ls$1.gamma') : key;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** How one architecture's expected state_dict (`want`) takes the checkpoint's (normalised) keys and shapes. */
export function fitOne(name: string, want: readonly (readonly [string, readonly number[]])[], ckpt: Map<string, readonly number[]>, legacy = name.startsWith('legacy:')): Fit {
  const f: Fit = { name, exact: false, matched: 0, missing: [], unexpected: [], mismatched: [], notes: [], score: 0, differs: [] };
  const wantMap = new Map(want);
  for (const [k, s] of want) {
    const got = ckpt.get(k);
    if (!got) {
      f.missing.push(k);
      continue;
    }
    if (same(got, s)) f.matched++;
    else if (/^head(_dist)?\.weight$/.test(k) && got.length === 2 && got[1] === s[1]) {
      f.matched++;
      if (k === 'head.weight') f.notes.push(`num_classes=${got[0]} (default ${s[0]})`);
    } else if (/^head(_dist)?\.bias$/.test(k) && got.length === 1) {
      f.matched++;
    } else if (k === 'pos_embed' && got.length === 3 && got[2] === s[2]) {
      f.matched++;
      f.notes.push(`pos_embed has ${got[1]} tokens (${s[1]} at the default size: resampled on load)`);
    } else if (k === 'patch_embed.proj.weight' && got.length === 2 && numel(got) === numel(s)) {
      f.matched++;
      f.notes.push('linear patch projection (reshaped on load)');
    } else f.mismatched.push(`${k} [${got.join(', ')}] vs [${s.join(', ')}]`);
  }
  for (const k of ckpt.keys()) {
    if (wantMap.has(k)) continue;
    if (k.startsWith('pre_logits.') && !legacy) {
      if (!f.notes.includes('pre_logits dropped')) f.notes.push('pre_logits dropped');
      continue;
    }
    if (/^head(_dist)?\./.test(k) && !wantMap.has('head.weight')) continue; // headless model: classifier dropped
    f.unexpected.push(k);
  }
  f.exact = !f.missing.length && !f.unexpected.length && !f.mismatched.length;
  // shape agreement over the union of keys, then how far the structure is (width, depth, patch, family markers)
  const union = want.length + f.unexpected.length;
  const common = want.length - f.missing.length;
  const got = summariseStateDict(ckpt);
  const exp = summariseStateDict(want);
  f.differs = summaryDiff(got, exp).filter((d) => !d.startsWith('classes') && !d.startsWith('tokens'));
  const log2 = (a?: number, b?: number) => (a && b ? Math.abs(Math.log2(a / b)) : 1);
  const distance = log2(got.width, exp.width) + Math.abs(got.depth - exp.depth) / 4 + log2(got.patch, exp.patch) / 2 +
    (got.family === exp.family ? 0 : 3) + 2 * f.differs.filter((d) => / only in /.test(d)).length;
  f.score = f.exact ? 1e9 - f.notes.length : (4 * f.matched + 2 * common) / Math.max(1, union) - distance;
  return f;
}

export function fitArchitectures(shapes: Map<string, readonly number[]>, limit = 5): Fit[] {
  const ckpt = new Map([...shapes].map(([k, s]) => [normaliseKey(k), s]));
  const fits: Fit[] = [];
  for (const name of [...listModels('*'), ...listModels('legacy:*')]) {
    let want: [string, number[]][];
    try {
      want = expectedStateDict(resolveModel(name).config);
    } catch {
      continue; // families vitnode does not implement
    }
    fits.push(fitOne(name, want, ckpt));
  }
  return fits.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1)).slice(0, limit);
}
