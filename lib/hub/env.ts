// huggingface_hub's environment, read the way huggingface_hub/constants.py reads it, so a Python cache is shared.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const truthy = (v: string | undefined) => v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());

export function hfHome(): string {
  return process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

/** HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub. */
export function hubCacheDir(): string {
  return process.env.HF_HUB_CACHE ?? process.env.HUGGINGFACE_HUB_CACHE ?? join(hfHome(), 'hub');
}

export function hubEndpoint(): string {
  return (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function hubOffline(): boolean {
  return truthy(process.env.HF_HUB_OFFLINE) || truthy(process.env.TRANSFORMERS_OFFLINE);
}

/** HF_TOKEN, else the token file `huggingface-cli login` writes (HF_TOKEN_PATH or $HF_HOME/token). */
export function hubToken(): string | undefined {
  const env = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  if (env?.trim()) return env.trim();
  try {
    return readFileSync(process.env.HF_TOKEN_PATH ?? join(hfHome(), 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** torch.hub's cache for plain-URL weights (timm cfgs with `url` and no hub id): $TORCH_HOME/hub/checkpoints. */
export function torchHubCheckpoints(): string {
  return join(process.env.TORCH_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torch'), 'hub', 'checkpoints');
}
