// Which registry architectures a checkpoint fits: its keys and shapes (after timm's key-level filter rules) against
// every registry name's expected state_dict. Differences timm's loader absorbs are reported, not counted against a
// fit: the classifier's class count (head dropped + re-initialised), the pos_embed token count (resampled), a
// linear patch projection (reshaped), representation layers (pre_logits, dropped by modern models).
import { expectedStateDict, listModels, resolveModel } from '../registry/index.ts';

export interface Fit {
  name: string;
  /** Exact fit up to the absorbed differences listed in `notes`. */
  exact: boolean;
  matched: number;
  missing: string[];
  unexpected: string[];
  mismatched: string[];
  notes: string[];
}

/** timm's key-level rules: container prefixes stripped, DeiT-III gamma_N -> lsN.gamma (applied when `layerScale`). */
export function normaliseKey(key: string, layerScale = true): string {
  for (const p of ['module.', 'model.', 'state_dict.']) if (key.startsWith(p)) key = key.slice(p.length);
  return layerScale ? key.replace(/\.gamma_([12])$/, '.ls$1.gamma') : key;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

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
    const f: Fit = { name, exact: false, matched: 0, missing: [], unexpected: [], mismatched: [], notes: [] };
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
      if (k.startsWith('pre_logits.') && !name.startsWith('legacy:')) {
        if (!f.notes.includes('pre_logits dropped')) f.notes.push('pre_logits dropped');
        continue;
      }
      if (/^head(_dist)?\./.test(k) && !wantMap.has('head.weight')) continue; // headless model: classifier dropped
      f.unexpected.push(k);
    }
    f.exact = !f.missing.length && !f.unexpected.length && !f.mismatched.length;
    fits.push(f);
  }
  const score = (f: Fit) => (f.exact ? 1e9 - f.notes.length : f.matched - f.unexpected.length - f.mismatched.length);
  return fits.sort((a, b) => score(b) - score(a)).slice(0, limit);
}
