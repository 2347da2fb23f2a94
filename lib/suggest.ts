// "Did you mean" for option names (API keys and CLI flags): the closest candidate by edit distance, ignoring
// case, '-' and '_' (topk -> top-k / topK); a prefix counts as close (maxBatch -> maxBatchSize).
import { levenshtein } from './registry/names.ts';

const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

export function closestOption(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const [a, b] = [norm(name), norm(c)];
    const d = a.length >= 3 && (b.startsWith(a) || a.startsWith(b)) ? 1 : levenshtein(a, b); // a cut-short name
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(norm(name).length / 3)) ? best : undefined;
}
