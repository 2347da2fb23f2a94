// Where createModel's weights come from (timm _builder._resolve_pretrained_source, minus code execution):
//   'hf-hub:org/name[@revision]'  -> config.json + model.safetensors (else pytorch_model.bin) from the hub cache;
//   a folder                      -> its config.json + model.safetensors (else pytorch_model.bin);
//   { pretrained: true } on a registry name or config -> its pretrained cfg's hf_hub_id (else its url).
// An explicit `checkpoint` always wins; `pretrained: false` on a hub repo or folder builds it without weights.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VitError } from '../errors.ts';
import type { PretrainedCfg } from '../models/config.ts';
import { getPretrainedCfg, type HfConfig } from '../registry/index.ts';
import { FOLDER_WEIGHTS, weightsInFolder } from '../weights/checkpoint.ts';
import { hubCacheDir, hubDownload, urlDownload, type DownloadOptions } from './download.ts';
import { hubOffline } from './env.ts';

export const HF_HUB_PREFIX = 'hf-hub:';
/** Weight files in a hub repo, in timm's order of preference. */
export const HUB_WEIGHTS = ['model.safetensors', 'pytorch_model.bin'];

export interface ResolvedSource {
  /** What the registry resolves: a name, a config.json path, or a config object. */
  source: string | HfConfig;
  checkpoint?: string;
}

/** 'hf-hub:org/name@rev' -> ['org/name', 'rev']. */
export function parseHubSpec(spec: string): [string, string] {
  const s = spec.slice(HF_HUB_PREFIX.length);
  const at = s.indexOf('@');
  const repo = at < 0 ? s : s.slice(0, at);
  const rev = at < 0 ? 'main' : s.slice(at + 1);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || !rev) throw new VitError('VIT_E_ARGUMENT', `'${spec}': expected hf-hub:<org>/<name>[@revision]`);
  return [repo, rev];
}

/** The first of `files` the repo has (model.safetensors, else pytorch_model.bin), downloaded. */
export async function hubWeights(repoId: string, options: DownloadOptions = {}): Promise<string> {
  if (hubOffline()) {
    // offline: only the cache answers, and a miss says nothing about the repository
    for (const f of HUB_WEIGHTS) {
      try {
        return await hubDownload(repoId, f, options);
      } catch (err) {
        if (!(err instanceof VitError) || err.code !== 'VIT_E_NOT_FOUND') throw err;
      }
    }
    const rev = options.revision && options.revision !== 'main' ? ` --revision ${options.revision}` : '';
    throw new VitError('VIT_E_NOT_FOUND', `${repoId}: offline (HF_HUB_OFFLINE is set) and its weights (${HUB_WEIGHTS.join(' or ')}) are not in the cache (${hubCacheDir()}); ` +
      `download them once with \`huggingface-cli download ${repoId} config.json model.safetensors${rev}\`, or unset HF_HUB_OFFLINE`);
  }
  let lastErr: unknown;
  for (const f of HUB_WEIGHTS) {
    try {
      return await hubDownload(repoId, f, options);
    } catch (err) {
      if (!(err instanceof VitError) || err.code !== 'VIT_E_NOT_FOUND' || /repository not found/.test(err.message)) throw err;
      lastErr = err;
    }
  }
  throw new VitError('VIT_E_NOT_FOUND', `${repoId}: no weights (${HUB_WEIGHTS.join(' / ')}) in the repository: ${(lastErr as Error).message}`, { cause: lastErr });
}

function readConfig(path: string): HfConfig {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HfConfig;
  } catch (err) {
    throw new VitError('VIT_E_IO', `cannot read model config ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Weights for a pretrained cfg: its hub id (timm/<arch>.<tag> completion included), else its URL. */
export async function pretrainedWeights(cfg: PretrainedCfg, what: string, options: DownloadOptions = {}): Promise<string> {
  let hub = cfg.hf_hub_id;
  if (hub && hub.endsWith('/') && cfg.architecture) hub += `${cfg.architecture}${cfg.tag ? `.${cfg.tag}` : ''}`;
  if (hub) return hubWeights(hub, { revision: (cfg.hf_hub_revision as string | undefined) ?? options.revision, progress: options.progress });
  if (cfg.url) return urlDownload(cfg.url, options);
  throw new VitError('VIT_E_NOT_FOUND', `${what}: no pretrained weights are published for it (its pretrained cfg has neither hf_hub_id nor url)`);
}

export async function resolvePretrainedSource(source: string | HfConfig, o: { checkpoint?: string; pretrained?: boolean; progress?: boolean }): Promise<ResolvedSource> {
  const checkpoint = o.checkpoint;
  if (typeof source === 'string' && source.startsWith(HF_HUB_PREFIX)) {
    const [repo, revision] = parseHubSpec(source);
    const config = readConfig(await hubDownload(repo, 'config.json', { revision, progress: o.progress }));
    if (checkpoint || o.pretrained === false) return { source: config, checkpoint };
    return { source: config, checkpoint: await hubWeights(repo, { revision, progress: o.progress }) };
  }
  if (typeof source === 'string' && existsSync(source) && statSync(source).isDirectory()) {
    const cfgPath = join(source, 'config.json');
    if (!existsSync(cfgPath)) throw new VitError('VIT_E_IO', `${source}: a model folder needs a config.json (timm / Hugging Face format)`);
    const config = readConfig(cfgPath);
    if (checkpoint || o.pretrained === false) return { source: config, checkpoint };
    return { source: config, checkpoint: weightsInFolder(source) };
  }
  // a model folder's config.json: the folder's weights, as the folder path itself
  if (typeof source === 'string' && basename(source) === 'config.json' && !checkpoint && o.pretrained !== false) {
    const dir = dirname(source);
    if (FOLDER_WEIGHTS.some((f) => existsSync(join(dir, f)))) return { source, checkpoint: weightsInFolder(dir) };
  }
  if (!o.pretrained || checkpoint) return { source, checkpoint };
  if (typeof source === 'string' && !source.endsWith('.json')) {
    return { source, checkpoint: await pretrainedWeights(getPretrainedCfg(source), source, { progress: o.progress }) };
  }
  const config = typeof source === 'string' ? readConfig(source) : source;
  const cfg = (config as { pretrained_cfg?: PretrainedCfg }).pretrained_cfg;
  if (!cfg) throw new VitError('VIT_E_NOT_FOUND', `pretrained: true needs a hub id: the config has no pretrained_cfg (pass { checkpoint } instead)`);
  return { source, checkpoint: await pretrainedWeights({ architecture: config.architecture, ...cfg }, config.architecture, { progress: o.progress }) };
}
