// hf_hub_download: HEAD the file's resolve URL (commit, etag, size), then GET it into the cache's blobs/ as
// <etag>.incomplete (resumed with Range after an interruption), verify size and checksum (LFS etag = sha256,
// plain git files: git blob sha1), rename, link snapshots/<commit>/<file>, record refs/<revision>.
// HF_HUB_OFFLINE=1 or a network failure with a cached copy: the cached copy.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VitError } from '../errors.ts';
import { blobPath, cachedFile, cachedMissing, linkSnapshot, markMissing, repoFolder, writeRef } from './cache.ts';
import { hubCacheDir, hubEndpoint, hubOffline, hubToken, torchHubCheckpoints } from './env.ts';
import { Progress } from './progress.ts';

export interface DownloadOptions {
  revision?: string;
  /** Progress bar on stderr: default only when stderr is a TTY. */
  progress?: boolean;
}

const etagTimeoutMs = () => 1000 * Number(process.env.HF_HUB_ETAG_TIMEOUT ?? 10);
const idleTimeoutMs = () => 1000 * Number(process.env.HF_HUB_DOWNLOAD_TIMEOUT ?? 10);

export function resolveUrl(repoId: string, filename: string, revision = 'main'): string {
  return `${hubEndpoint()}/${repoId}/resolve/${encodeURIComponent(revision)}/${filename.split('/').map(encodeURIComponent).join('/')}`;
}

function authHeaders(url: string): Record<string, string> {
  const token = hubToken();
  // the token goes to the hub only, never to a CDN a redirect points at
  return token && new URL(url).origin === new URL(hubEndpoint()).origin ? { authorization: `Bearer ${token}` } : {};
}

function networkError(what: string, err: unknown): VitError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
  return new VitError('VIT_E_NETWORK', `${what}: network error (${why}); set HF_HUB_OFFLINE=1 to use the local cache only`, { cause: err });
}

/** Maps a hub HTTP error to a typed error with a hint. */
export function httpError(status: number, headers: Headers, what: string): VitError {
  const code = headers.get('x-error-code');
  const msg = headers.get('x-error-message');
  const extra = msg ? ` (${msg})` : '';
  if (code === 'RepoNotFound' || (status === 401 && !hubToken())) {
    return new VitError(status === 401 || status === 403 ? 'VIT_E_AUTH' : 'VIT_E_NOT_FOUND',
      `${what}: repository not found, or private / gated: HTTP ${status}${extra}. If it exists, set HF_TOKEN to a Hugging Face access token that can read it`);
  }
  if (status === 401 || status === 403) {
    return new VitError('VIT_E_AUTH', `${what}: HTTP ${status}${extra}: ${hubToken() ? 'the token in HF_TOKEN cannot read this repository (gated model? accept its terms on the model page)' : 'authentication required: set HF_TOKEN to a Hugging Face access token'}`);
  }
  if (status === 404) {
    const kind = code === 'EntryNotFound' ? 'no such file in the repository' : code === 'RevisionNotFound' ? 'no such revision' : 'not found';
    return new VitError('VIT_E_NOT_FOUND', `${what}: ${kind} (HTTP 404)${extra}`);
  }
  return new VitError('VIT_E_NETWORK', `${what}: HTTP ${status}${extra}`);
}

const cleanEtag = (e: string | null) => (e ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');

interface Meta {
  commit: string;
  etag: string;
  size: number | null;
  url: string;
}

async function headMeta(repoId: string, filename: string, revision: string): Promise<Meta> {
  let url = resolveUrl(repoId, filename, revision);
  const what = `${repoId}/${filename}@${revision}`;
  for (let hops = 0; ; hops++) {
    let res: Response;
    try {
      res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: { 'accept-encoding': 'identity', ...authHeaders(url) }, signal: AbortSignal.timeout(etagTimeoutMs()) });
    } catch (err) {
      throw networkError(what, err);
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      const next = new URL(loc, url);
      // relative redirect = renamed repo on the hub itself: follow it; absolute = the file's CDN URL
      if (next.origin === new URL(url).origin && hops < 5 && !res.headers.get('x-linked-etag')) {
        url = next.toString();
        continue;
      }
    } else if (!res.ok) {
      const c = res.headers.get('x-repo-commit');
      if (res.status === 404 && res.headers.get('x-error-code') === 'EntryNotFound' && c && /^[0-9a-f]{40}$/.test(c)) markMissing(repoId, filename, c);
      throw httpError(res.status, res.headers, what);
    }
    const commit = res.headers.get('x-repo-commit') ?? '';
    const etag = cleanEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const sizeText = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    if (!commit || !etag) throw new VitError('VIT_E_NETWORK', `${what}: the server did not send X-Repo-Commit / ETag (is HF_ENDPOINT a Hugging Face hub?)`);
    if (!/^[\w.-]+$/.test(etag) || !/^[\w.-]+$/.test(commit)) throw new VitError('VIT_E_NETWORK', `${what}: malformed ETag / commit from the server`);
    const size = sizeText !== null && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
    return { commit, etag, size, url: res.status >= 300 && res.status < 400 && loc ? new URL(loc, url).toString() : url };
  }
}

/** Feeds the part already on disk into the hash (resuming). */
async function hashPrefix(h: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

/**
 * GET `url` into `dest` via `dest.incomplete`, resuming a partial file with Range. Verifies the size when known and
 * the checksum when `etag` is one (64 hex: sha256 of the content; 40 hex: git blob sha1).
 */
export async function fetchToFile(url: string, dest: string, opts: { size: number | null; etag?: string; what: string; progress?: boolean }): Promise<void> {
  const part = `${dest}.incomplete`;
  mkdirSync(dirname(dest), { recursive: true });
  const sha256 = opts.etag && /^[0-9a-f]{64}$/.test(opts.etag);
  const gitSha1 = opts.etag && /^[0-9a-f]{40}$/.test(opts.etag) && opts.size !== null;
  for (let attempt = 0; attempt < 2; attempt++) {
    let have = existsSync(part) ? statSync(part).size : 0;
    if (opts.size !== null && have > opts.size) {
      rmSync(part, { force: true });
      have = 0;
    }
    const ctl = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(new Error(`no data for ${idleTimeoutMs() / 1000} s`)), idleTimeoutMs());
    };
    arm();
    let res: Response;
    try {
      res = await fetch(url, { headers: { 'accept-encoding': 'identity', ...authHeaders(url), ...(have ? { range: `bytes=${have}-` } : {}) }, signal: ctl.signal });
    } catch (err) {
      clearTimeout(idle);
      throw networkError(opts.what, err);
    }
    if (res.status === 416 && have) {
      // the range starts at the end: either complete already, or the part file is stale
      clearTimeout(idle);
      if (opts.size === null || have !== opts.size) {
        rmSync(part, { force: true });
        continue;
      }
    } else if (!res.ok || !res.body) {
      clearTimeout(idle);
      throw httpError(res.status, res.headers, opts.what);
    }
    const resumed = res.status === 206;
    if (!resumed) have = 0;
    const h = sha256 ? createHash('sha256') : gitSha1 ? createHash('sha1').update(`blob ${opts.size}\0`) : null;
    if (h && have) await hashPrefix(h, part);
    const total = opts.size ?? (Number(res.headers.get('content-length') ?? NaN) + have);
    const bar = new Progress(basename(dest.length > 60 ? opts.what : dest), total, opts.progress, have);
    if (res.status !== 416) {
      const fh = await open(part, resumed ? 'a' : 'w');
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          await fh.write(chunk);
          h?.update(chunk);
          have += chunk.length;
          bar.update(have);
        }
      } catch (err) {
        throw networkError(`${opts.what} (download interrupted at ${have} bytes; it resumes on the next try)`, err);
      } finally {
        clearTimeout(idle);
        await fh.close();
        bar.done();
      }
    }
    const got = statSync(part).size;
    if (opts.size !== null && got !== opts.size) {
      throw new VitError('VIT_E_NETWORK', `${opts.what}: got ${got} bytes, expected ${opts.size} (interrupted? run again to resume)`);
    }
    if (h) {
      const digest = h.digest('hex');
      if (digest !== opts.etag) {
        rmSync(part, { force: true });
        throw new VitError('VIT_E_IO', `${opts.what}: checksum mismatch (${sha256 ? 'sha256' : 'git sha1'} ${digest}, expected ${opts.etag}); the partial file was deleted`);
      }
    }
    renameSync(part, dest);
    return;
  }
  throw new VitError('VIT_E_NETWORK', `${opts.what}: the server refused to resume the download`);
}

/** huggingface_hub.hf_hub_download: the local path of `filename` in `repoId` at `revision`, downloading if needed. */
export async function hubDownload(repoId: string, filename: string, options: DownloadOptions = {}): Promise<string> {
  const revision = options.revision ?? 'main';
  const what = `${repoId}/${filename}${revision === 'main' ? '' : `@${revision}`}`;
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repoId)) throw new VitError('VIT_E_ARGUMENT', `'${repoId}' is not a Hugging Face repo id (org/name)`);
  const cached = cachedFile(repoId, filename, revision);
  if (hubOffline()) {
    if (cached) return cached;
    const known = cachedMissing(repoId, filename, revision) ? '; the cache records that the repository has no such file' : '';
    throw new VitError('VIT_E_NOT_FOUND', `${what}: offline (HF_HUB_OFFLINE is set) and the file is not in the cache (${repoFolder(repoId)})${known}; ` +
      `download it once with \`huggingface-cli download ${repoId} ${filename}${revision === 'main' ? '' : ` --revision ${revision}`}\`, or unset HF_HUB_OFFLINE`);
  }
  let meta: Meta;
  try {
    meta = await headMeta(repoId, filename, revision);
  } catch (err) {
    if (err instanceof VitError && err.code === 'VIT_E_NETWORK' && cached) return cached; // as huggingface_hub: offline fallback
    throw err;
  }
  const blob = blobPath(repoId, meta.etag);
  if (!existsSync(blob)) {
    await fetchToFile(meta.url, blob, { size: meta.size, etag: meta.etag, what, progress: options.progress });
  }
  const path = linkSnapshot(repoId, meta.commit, filename, meta.etag);
  writeRef(repoId, revision, meta.commit);
  return path;
}

/** A plain URL (timm cfgs with `url` only) into torch.hub's checkpoint cache, as timm's load_state_dict_from_url. */
export async function urlDownload(url: string, options: { progress?: boolean } = {}): Promise<string> {
  const dest = join(torchHubCheckpoints(), basename(new URL(url).pathname));
  if (existsSync(dest)) return dest;
  if (hubOffline()) throw new VitError('VIT_E_NOT_FOUND', `${url}: HF_HUB_OFFLINE is set and ${dest} is not cached`);
  await fetchToFile(url, dest, { size: null, what: url, progress: options.progress });
  return dest;
}

export { hubCacheDir };
