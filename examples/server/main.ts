// node --import=tsx examples/server/main.ts [--port 8080] [--host 127.0.0.1] [--model <name|config.json|dir>]
//   [--checkpoint f] [--no-batching] [--max-batch-size 8] [--max-delay-ms 2] [--max-queue 256] [--timeout-ms 30000]
//   [--threads N] [--devices cpu|cuda:0,cuda:1] [--instances-per-device 1]
// Defaults to the bundled digits model (offline). Prints one JSON line {url} when listening; SIGTERM / SIGINT
// drain the queue, dispose the models and print {nativeStats} (all zero: nothing leaked) before exiting.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nativeStats } from '../../lib/index.ts';
import { startServer } from './server.ts';

const digits = join(dirname(fileURLToPath(import.meta.url)), '..', 'digits');
const { values: a } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    model: { type: 'string' },
    checkpoint: { type: 'string' },
    'no-batching': { type: 'boolean', default: false },
    'max-batch-size': { type: 'string' },
    'max-delay-ms': { type: 'string' },
    'max-queue': { type: 'string' },
    'timeout-ms': { type: 'string' },
    threads: { type: 'string' },
    devices: { type: 'string' },
    'instances-per-device': { type: 'string' },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const model = a.model ?? join(digits, 'config.json');
const checkpoint = a.checkpoint ?? (a.model ? undefined : join(digits, 'model.safetensors'));

const srv = await startServer({
  model,
  checkpoint,
  batching: !a['no-batching'],
  maxBatchSize: num(a['max-batch-size']),
  maxDelayMs: num(a['max-delay-ms']),
  maxQueue: num(a['max-queue']),
  timeoutMs: num(a['timeout-ms']),
  threads: num(a.threads),
  devices: a.devices?.split(','),
  instancesPerDevice: num(a['instances-per-device']),
  port: Number(a.port),
  host: a.host,
});
console.log(JSON.stringify({ url: srv.url, batching: !a['no-batching'] }));

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    srv.close().then(() => {
      console.log(JSON.stringify({ stopped: true, nativeStats: nativeStats() }));
      process.exit(0);
    });
  });
}
