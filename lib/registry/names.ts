// Name matching helpers: fnmatch-style wildcards (as timm's list_models) and closest-name suggestions.

/** Python fnmatch.fnmatchcase semantics: `*`, `?`, `[seq]`, `[!seq]`; the whole name must match. */
export function fnmatchToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `n` candidates closest to `name` by edit distance (ties: alphabetical), within a sane distance. */
export function closestNames(name: string, candidates: Iterable<string>, n = 5): string[] {
  const limit = Math.max(3, Math.ceil(name.length / 2));
  return [...candidates]
    .map((c) => [c, levenshtein(name, c)] as const)
    .filter(([, d]) => d <= limit)
    .sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, n)
    .map(([c]) => c);
}
