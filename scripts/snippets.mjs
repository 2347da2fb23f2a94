// The ```ts / ```typescript blocks of a markdown file (scripts/check-snippets.mjs, test/pack.test.ts).

/** Every ```ts / ```typescript block of a markdown file, with the line it starts on. */
export function snippets(md) {
  const out = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i].trim())) continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== '```');
    out.push({ line: start + 1, code: lines.slice(start, i).join('\n') });
  }
  return out;
}
