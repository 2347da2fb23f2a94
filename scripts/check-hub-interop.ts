// Cross-check with Python's huggingface_hub (not part of the tests: needs python3 + huggingface_hub): against the
// local hub of test/hub-server.ts, a cache Python fills is read by vitnode offline, and a cache vitnode fills is
// read by Python offline.  node --import=tsx scripts/check-hub-interop.ts
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubDownload } from '../lib/hub/download.ts';
import { HubServer } from '../test/hub-server.ts';

const hub = new HubServer();
const weights = readFileSync('test/fixtures/parity/modern/vit_basic.safetensors');
hub.add('timm/vit_basic', { 'config.json': Buffer.from('{"architecture": "vit_base_patch16_224"}'), 'model.safetensors': weights });
await hub.start();
const dir = mkdtempSync(join(tmpdir(), 'hub-interop-'));
// async: the hub runs in this process
const py = async (cache: string, offline: boolean) =>
  (await promisify(execFile)('python3', ['-c', `
from huggingface_hub import hf_hub_download
for f in ['config.json', 'model.safetensors']:
    print(hf_hub_download('timm/vit_basic', f))`], { env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: offline ? '1' : '0', HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1' }, encoding: 'utf8' })).stdout;
try {
  // 1. Python downloads, vitnode reads offline
  const a = join(dir, 'a');
  console.log('python download:\n' + (await py(a, false)));
  Object.assign(process.env, { HF_HUB_CACHE: a, HF_HUB_OFFLINE: '1', HF_ENDPOINT: hub.endpoint });
  for (const f of ['config.json', 'model.safetensors']) console.log('vitnode offline from the Python cache:', await hubDownload('timm/vit_basic', f));
  // 2. vitnode downloads, Python reads offline
  const b = join(dir, 'b');
  Object.assign(process.env, { HF_HUB_CACHE: b, HF_HUB_OFFLINE: '0' });
  for (const f of ['config.json', 'model.safetensors']) await hubDownload('timm/vit_basic', f);
  console.log('python offline from the vitnode cache:\n' + (await py(b, true)));
} finally {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
}
