// What a state_dict looks like, read from its keys and shapes alone: depth, width, patch, classes, tokens and the
// family markers timm's modules leave in key names. Used to say what a checkpoint is (describe) and why it does not
// fit a model (load errors). Heads are not stored in a ViT's weights; they come from a config when there is one.

export interface StateDictSummary {
  /** 'ViT', 'DeiT distilled', 'hybrid ViT', ... (from key names). */
  family: string;
  depth: number;
  width?: number;
  mlpHidden?: number;
  patch?: number;
  /** Classifier outputs; 0 = no head. */
  classes: number;
  /** pos_embed tokens. */
  tokens?: number;
  heads?: number;
  /** Markers: 'LayerScale', 'registers', 'pre-norm', 'fc_norm', 'pre_logits', 'no qkv bias'. */
  traits: string[];
}

type Shapes = Iterable<readonly [string, readonly number[]]>;

const strip = (k: string) => k.replace(/^(module|model|state_dict)\./, '').replace(/\.gamma_([12])$/, '.ls$1.gamma');

export function summariseStateDict(entries: Shapes, heads?: number): StateDictSummary {
  const m = new Map<string, readonly number[]>();
  for (const [k, s] of entries) m.set(strip(k), s);
  const keys = [...m.keys()];
  let depth = 0;
  for (const k of keys) {
    const b = /^blocks\.(\d+)\./.exec(k);
    if (b) depth = Math.max(depth, Number(b[1]) + 1);
  }
  const pos = m.get('pos_embed');
  const proj = m.get('patch_embed.proj.weight');
  const width = m.get('cls_token')?.at(-1) ?? pos?.at(-1) ?? m.get('norm.weight')?.[0] ?? proj?.[0];
  const hybrid = keys.some((k) => k.startsWith('patch_embed.backbone.'));
  let patch: number | undefined;
  if (proj?.length === 4 && !hybrid) patch = proj[2];
  else if (proj?.length === 2 && width) patch = Math.round(Math.sqrt(proj[1] / 3));
  const head = m.get('head.weight');
  const traits: string[] = [];
  const any = (re: RegExp) => keys.some((k) => re.test(k));
  if (any(/\.ls[12]\.gamma$/)) traits.push('LayerScale');
  if (m.has('reg_token')) traits.push(`${m.get('reg_token')![1]} registers`);
  if (any(/^norm_pre\./)) traits.push('pre-norm');
  if (any(/^fc_norm\./)) traits.push('fc_norm');
  if (any(/^pre_logits\./)) traits.push('pre_logits');
  if (depth && m.has('blocks.0.attn.qkv.weight') && !m.has('blocks.0.attn.qkv.bias')) traits.push('no qkv bias');
  const family = hybrid ? 'hybrid ViT' : m.has('dist_token') ? 'DeiT distilled' : any(/^blocks\.0\.attn\.(q|k|v)_proj\./) ? 'BEiT-3' : 'ViT';
  return {
    family,
    depth,
    width,
    mlpHidden: m.get('blocks.0.mlp.fc1.weight')?.[0],
    patch,
    classes: head?.[0] ?? 0,
    tokens: pos?.[1],
    heads,
    traits,
  };
}

/** 'ViT: depth 4, width 96, 3 heads, mlp 384, patch 4, 10 classes, 65 tokens'. */
export function formatSummary(s: StateDictSummary): string {
  const parts = [
    `depth ${s.depth}`,
    s.width !== undefined && `width ${s.width}`,
    s.heads !== undefined && `${s.heads} heads`,
    s.mlpHidden !== undefined && `mlp ${s.mlpHidden}`,
    s.patch !== undefined && `patch ${s.patch}`,
    s.classes ? `${s.classes} classes` : 'no classifier',
    s.tokens !== undefined && `${s.tokens} tokens`,
    ...s.traits,
  ].filter(Boolean);
  return `${s.family}: ${parts.join(', ')}`;
}

/** The fields where two summaries differ ('depth 4 vs 12', ...). */
export function summaryDiff(got: StateDictSummary, want: StateDictSummary): string[] {
  const out: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown) => {
    if (a !== b) out.push(`${what} ${a ?? '-'} vs ${b ?? '-'}`);
  };
  cmp('family', got.family, want.family);
  cmp('depth', got.depth, want.depth);
  cmp('width', got.width, want.width);
  cmp('mlp', got.mlpHidden, want.mlpHidden);
  cmp('patch', got.patch, want.patch);
  cmp('classes', got.classes, want.classes);
  cmp('tokens', got.tokens, want.tokens);
  const a = new Set(got.traits);
  const b = new Set(want.traits);
  for (const t of a) if (!b.has(t)) out.push(`${t} only in the checkpoint`);
  for (const t of b) if (!a.has(t)) out.push(`${t} only in the model`);
  return out;
}
