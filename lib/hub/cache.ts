// The huggingface_hub cache layout: <cache>/models--<org>--<name>/{blobs/<etag>, snapshots/<commit>/<file> ->
// ../../blobs/<etag>, refs/<revision> (a commit hash)}. Shared with Python's huggingface_hub in both directions.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { hubCacheDir } from './env.ts';

export const isCommit = (rev: string) => /^[0-9a-f]{40}$/.test(rev);

export function repoFolder(repoId: string, cache = hubCacheDir()): string {
  return join(cache, `models--${repoId.replace(/\//g, '--')}`);
}

/** The commit a revision points to in the cache (a commit hash is its own), or undefined. */
export function cachedCommit(repoId: string, revision: string): string | undefined {
  if (isCommit(revision)) return revision;
  try {
    const c = readFileSync(join(repoFolder(repoId), 'refs', revision), 'utf8').trim();
    return c || undefined;
  } catch {
    return undefined;
  }
}

/** Path of a cached file for a revision, if present (huggingface_hub's try_to_load_from_cache). */
export function cachedFile(repoId: string, filename: string, revision = 'main'): string | undefined {
  const commit = cachedCommit(repoId, revision);
  if (!commit) return undefined;
  const p = join(repoFolder(repoId), 'snapshots', commit, filename);
  return existsSync(p) ? p : undefined;
}

/** Whether the cache records that the file does not exist at that commit (huggingface_hub's .no_exist markers). */
export function cachedMissing(repoId: string, filename: string, revision = 'main'): boolean {
  const commit = cachedCommit(repoId, revision);
  return commit !== undefined && existsSync(join(repoFolder(repoId), '.no_exist', commit, filename));
}

export function markMissing(repoId: string, filename: string, commit: string): void {
  const p = join(repoFolder(repoId), '.no_exist', commit, filename);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
}

export function writeRef(repoId: string, revision: string, commit: string): void {
  if (isCommit(revision) || revision === commit) return;
  const p = join(repoFolder(repoId), 'refs', revision);
  mkdirSync(dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, p);
}

export function blobPath(repoId: string, etag: string): string {
  return join(repoFolder(repoId), 'blobs', etag);
}

/** snapshots/<commit>/<filename> -> ../../blobs/<etag> (relative symlink; a copy where links are impossible). */
export function linkSnapshot(repoId: string, commit: string, filename: string, etag: string): string {
  const p = join(repoFolder(repoId), 'snapshots', commit, filename);
  const blob = blobPath(repoId, etag);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  try {
    symlinkSync(relative(dirname(p), blob), p);
  } catch {
    copyFileSync(blob, p);
  }
  return p;
}
