// Where a model came from, for messages and reports: the source as given (name, config file, folder, hf-hub id,
// config object), the model_args that make it a custom variant of its architecture, and its weights. A pretrained
// tag is shown only when that tag's weights were loaded.
import { existsSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { VitConfig } from './models/config.ts';
import type { ResolvedModel } from './registry/index.ts';

export interface ModelOrigin {
  kind: 'name' | 'config' | 'folder' | 'hf-hub' | 'object';
  /** The source as given (a path, a name, an hf-hub id; '' for a config object). */
  ref: string;
  /** Architecture options (timm model_args, snake_case) that differ from the architecture's own. */
  customArgs: string[];
  /** The weights file loaded, or null (random weights). */
  checkpoint: string | null;
  /** The pretrained tag whose weights were loaded, else null. */
  tag: string | null;
}

const SKIP = new Set(['numClasses', 'unsupported', 'load', 'era', 'modelClass']);
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Config fields that differ from the bare architecture's, as timm kwarg names. */
export function customArgs(config: VitConfig, base: VitConfig): string[] {
  const a = config as unknown as Record<string, unknown>;
  const b = base as unknown as Record<string, unknown>;
  return Object.keys(a).filter((k) => !SKIP.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k])).map(snake);
}

function kindOf(source: unknown): ModelOrigin['kind'] {
  if (typeof source !== 'string') return 'object';
  if (source.startsWith('hf-hub:')) return 'hf-hub';
  if (existsSync(source) && statSync(source).isDirectory()) return 'folder';
  return source.endsWith('.json') ? 'config' : 'name';
}

export function modelOrigin(source: unknown, src: { checkpoint?: string }, resolved: ResolvedModel, base: () => VitConfig, pretrained: boolean): ModelOrigin {
  const kind = kindOf(source);
  let custom: string[] = [];
  if (kind !== 'name') {
    try {
      custom = customArgs(resolved.config, base());
    } catch {
      custom = [];
    }
  }
  // a tag is named only when its weights were loaded: a tagged name with weights, pretrained: true, a hub id
  const tagged = kind === 'hf-hub' || (kind === 'name' && (pretrained || (Boolean(src.checkpoint) && String(source).includes('.'))));
  return {
    kind,
    ref: typeof source === 'string' ? source : '',
    customArgs: custom,
    checkpoint: src.checkpoint ?? null,
    tag: tagged && src.checkpoint ? resolved.tag : null,
  };
}

const shortPath = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') && r.length < p.length ? r : p;
};

/** 'vit_base_patch16_224 (folder examples/digits, custom model_args: img_size, patch_size, ...)'. */
export function originLabel(name: string, o: ModelOrigin | undefined): string {
  if (!o) return name;
  const parts: string[] = [];
  if (o.kind === 'folder' || o.kind === 'config') parts.push(`${o.kind} ${shortPath(o.ref)}`);
  else if (o.kind === 'hf-hub') parts.push(o.ref);
  else if (o.kind === 'object') parts.push('config object');
  if (o.customArgs.length) parts.push(`custom model_args: ${o.customArgs.join(', ')}`);
  if (!o.checkpoint) parts.push('random weights');
  else if (o.kind === 'name' && !o.tag) parts.push(`weights ${shortPath(o.checkpoint)}`);
  const base = o.tag && o.kind === 'name' ? `${name}.${o.tag}` : name;
  return parts.length ? `${base} (${parts.join(', ')})` : base;
}

const warned = new Set<string>();

/** Once per model per process: a process warning (code VIT_W_RANDOM_WEIGHTS), never a print. */
export function randomWeightsWarning(label: string): void {
  if (warned.has(label)) return;
  warned.add(label);
  process.emitWarning(`${label}: no checkpoint was given, so the weights are random and the outputs meaningless ` +
    '(pass a checkpoint, pretrained: true, a model folder or an hf-hub: id; seed: N or pretrained: false makes random weights intentional)',
  { code: 'VIT_W_RANDOM_WEIGHTS' });
}
