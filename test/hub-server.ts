// A local stand-in for the Hugging Face hub on 127.0.0.1 (not a test file): the `resolve` URLs with the headers
// huggingface_hub reads (X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, X-Error-Code), LFS files redirected
// to a "CDN" path with Range support, private repos behind a bearer token, and fault injection (cut a download
// after N bytes, serve corrupt bytes).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  commit: string;
  files: Record<string, Buffer>;
  /** Bearer token required (401 without it, 403 with a wrong one). */
  token?: string;
}

export interface HubLog {
  method: string;
  url: string;
  range?: string;
  auth?: string;
}

const LFS = /\.(safetensors|bin|pth|npz)$/;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export class HubServer {
  readonly repos = new Map<string, HubRepo>();
  readonly log: HubLog[] = [];
  /** Next N CDN GETs close the connection after this many bytes. */
  cutAfter: number | null = null;
  cutCount = 0;
  /** Serve flipped bytes for LFS blobs (checksum test). */
  corrupt = false;
  private server: Server;
  /** The "CDN" LFS files redirect to: another origin (port), as cdn-lfs.huggingface.co is. */
  private cdn: Server;
  private blobs = new Map<string, Buffer>();
  endpoint = '';
  cdnEndpoint = '';

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.cdn = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<string> {
    const listen = async (s: Server) => {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    };
    this.endpoint = await listen(this.server);
    // another host name for the same loopback address: clients treat it as off-hub (no token, no redirect following)
    this.cdnEndpoint = (await listen(this.cdn)).replace('127.0.0.1', 'localhost');
    return this.endpoint;
  }

  async stop(): Promise<void> {
    for (const s of [this.server, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  add(repoId: string, files: Record<string, Buffer>, token?: string): HubRepo {
    const commit = createHash('sha1').update(repoId + Object.keys(files).join()).digest('hex');
    const repo = { commit, files, token };
    this.repos.set(repoId, repo);
    for (const b of Object.values(files)) this.blobs.set(sha256(b), b);
    return repo;
  }

  gets(pathPart: string): HubLog[] {
    return this.log.filter((l) => l.method === 'GET' && l.url.includes(pathPart));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = decodeURIComponent(req.url ?? '');
    this.log.push({ method: req.method ?? '', url, range: req.headers.range, auth: req.headers.authorization });
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (cdn) return this.serveBlob(req, res, cdn[1]);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const repo = m && this.repos.get(m[1]);
    if (!m || !repo) {
      res.writeHead(401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
      return;
    }
    if (repo.token) {
      const auth = req.headers.authorization;
      if (!auth) return void res.writeHead(401, { 'x-error-message': 'Access to model is restricted.' }).end();
      if (auth !== `Bearer ${repo.token}`) return void res.writeHead(403, { 'x-error-message': 'Access to model is restricted.' }).end();
    }
    if (m[2] !== 'main' && m[2] !== repo.commit) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
    const file = repo.files[m[3]];
    if (!file) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': repo.commit }).end();
    if (LFS.test(m[3])) {
      const h = sha256(file);
      res.writeHead(302, {
        location: `${this.cdnEndpoint}/cdn/${h}`,
        'x-repo-commit': repo.commit,
        'x-linked-etag': `"${h}"`,
        'x-linked-size': String(file.length),
        etag: `"${gitSha1(Buffer.from('lfs pointer'))}"`,
      });
      res.end();
      return;
    }
    res.writeHead(200, { 'x-repo-commit': repo.commit, etag: `"${gitSha1(file)}"`, 'content-length': String(file.length) });
    res.end(req.method === 'HEAD' ? undefined : file);
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse, h: string): void {
    let body = this.blobs.get(h);
    if (!body) return void res.writeHead(404).end();
    if (this.corrupt) body = Buffer.from(body.map((b, i) => (i === 100 ? b ^ 0xff : b)));
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) return void res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': String(body.length - start) });
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
    }
    if (req.method === 'HEAD') return void res.end();
    const part = body.subarray(start);
    if (this.cutAfter !== null && this.cutCount > 0) {
      this.cutCount--;
      res.write(part.subarray(0, this.cutAfter), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(part);
  }
}
