// vitnode convert <in> <out.safetensors> and `vitnode describe <checkpoint>`.
//
// convert without --model applies timm's key-level rules only (state_dict_ema / model_ema / state_dict / model
// container, 'module.' / 'model.' prefixes, DeiT-III gamma_N -> lsN.gamma, JAX .npz names and transposes) and keeps
// every tensor's dtype: the output loads anywhere the input did. With --model (plus --num-classes / --img-size /
// --in-chans) it applies the whole filter for that model (linear patch reshape, pos_embed resample, in_chans
// adaptation, representation layers dropped, head dropped + re-initialised when the class count differs, strict
// key check) and writes exactly the model's state_dict in float32.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from '../binding.ts';
import { resolveSource } from '../create-model.ts';
import { createModelModule } from '../models/index.ts';
import { checkSupported, resolveModel } from '../registry/index.ts';
import { openCheckpoint, type Checkpoint } from '../weights/checkpoint.ts';
import { fitArchitectures, fitOne, normaliseKey, type Fit } from '../weights/fit.ts';
import { formatSummary, summariseStateDict } from '../weights/summary.ts';
import { customArgs, originLabel } from '../origin.ts';
import { loadTensors } from '../weights/load.ts';
import { writeSafetensorsStream, type WriteEntry } from '../weights/write.ts';
import { intOpt, parse, usage } from './args.ts';

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    model: { type: 'string' },
    'num-classes': { type: 'string' },
    'img-size': { type: 'string' },
    'in-chans': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  }, true);
  if (positionals.length !== 2) usage('convert takes <in.pth|in.bin|in.npz|in.safetensors|model dir> <out.safetensors>');
  const [input, output] = positionals;
  if (!output.endsWith('.safetensors')) usage(`the output must be a .safetensors file, got '${output}'`);
  if (!values.model && (values['num-classes'] || values['img-size'] || values['in-chans'])) usage('--num-classes / --img-size / --in-chans need --model');
  const ckpt = openCheckpoint(input);
  const log = (s: string) => {
    if (!values.quiet) console.error(s);
  };
  try {
    const meta = { format: 'pt', source: input.split('/').pop() ?? input, converted_by: 'vitnode' };
    let entries: WriteEntry[];
    if (!values.model) {
      entries = [];
      const seen = new Set<string>();
      for (const [k, t] of ckpt.tensors) {
        const key = normaliseKey(k);
        if (seen.has(key)) throw usage(`two checkpoint keys become '${key}'; pass --model to resolve them with the full filter`);
        seen.add(key);
        entries.push({ name: key, shape: t.shape, dtype: t.dtype, read: () => t.read() });
      }
    } else {
      const resolved = resolveSource(values.model, {
        numClasses: intOpt(values['num-classes'], 'num-classes'),
        imgSize: intOpt(values['img-size'], 'img-size'),
        inChans: intOpt(values['in-chans'], 'in-chans'),
        pretrained: true,
      });
      checkSupported(resolved.config);
      const module = createModelModule(resolved.config);
      const store = new binding.WeightStore();
      try {
        const report = loadTensors(ckpt.tensors, module, store, 0, ckpt);
        if (report.adapted.length) log(`adapted: ${report.adapted.join(', ')}`);
        if (report.dropped.length) log(`dropped: ${report.dropped.join(', ')}`);
        if (report.reinitialised.length) log(`re-initialised (class count differs): ${report.reinitialised.join(', ')}`);
        entries = module.params().map(([k]) => ({ name: k, shape: store.shape(k), dtype: 'F32' as const, read: () => store.get(k) }));
        (meta as Record<string, string>).architecture = resolved.name;
        writeOut(output, entries, meta, ckpt, log);
      } finally {
        store.dispose();
      }
      return;
    }
    writeOut(output, entries, meta, ckpt, log);
  } finally {
    ckpt.close();
  }
}

function writeOut(output: string, entries: WriteEntry[], meta: Record<string, string>, ckpt: Checkpoint, log: (s: string) => void) {
  const bytes = writeSafetensorsStream(output, entries, meta);
  log(`${output}: ${entries.length} tensors, ${(bytes / 1e6).toFixed(1)} MB (from ${ckpt.format}${ckpt.container ? `, '${ckpt.container}'` : ''})`);
  if (ckpt.skipped.length) log(`not converted: ${ckpt.skipped.join('; ')}`);
}

/** A model folder's config.json against the checkpoint: its architecture, heads, and whether it fits. */
function folderConfig(path: string, shapes: Map<string, readonly number[]>): { label: string; heads: number; fit: Fit } | undefined {
  const cfgPath = join(path, 'config.json');
  if (!existsSync(cfgPath) || !statSync(path).isDirectory()) return undefined;
  const r = resolveSource(cfgPath, { pretrained: true });
  checkSupported(r.config);
  const custom = customArgs(r.config, resolveModel(r.name).config);
  const label = originLabel(r.name, { kind: 'config', ref: cfgPath, customArgs: custom, checkpoint: 'n/a', tag: null });
  const fit = fitOne(label, createModelModule(r.config).params(), new Map([...shapes].map(([k, s]) => [normaliseKey(k), s])));
  return { label, heads: r.config.numHeads, fit };
}

const why = (f: Fit) => [f.missing.length && `${f.missing.length} missing`, f.unexpected.length && `${f.unexpected.length} unexpected`,
  f.mismatched.length && `${f.mismatched.length} mis-shaped (e.g. ${f.mismatched[0]})`].filter(Boolean).join(', ');

/** `vitnode describe <checkpoint|folder>`: keys, shapes, dtypes, what was skipped, what the weights are (depth, width,
 *  patch, classes; heads from the folder's config.json), and the registry architectures it fits or comes closest to. */
export async function describeCheckpoint(path: string, json: boolean): Promise<void> {
  const ckpt = openCheckpoint(path);
  try {
    const tensors = [...ckpt.tensors].map(([k, t]) => ({ key: k, shape: t.shape, dtype: t.dtype }));
    const shapes = new Map(tensors.map((t) => [t.key, t.shape]));
    const config = folderConfig(path, shapes);
    const summary = summariseStateDict(shapes, config?.heads);
    const fits = fitArchitectures(shapes);
    const params = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    if (json) {
      console.log(JSON.stringify({ path, format: ckpt.format, container: ckpt.container ?? null, parameters: params, tensors, skipped: ckpt.skipped,
        summary, config: config ? { model: config.label, fits: config.fit.exact, problems: [...config.fit.missing, ...config.fit.unexpected, ...config.fit.mismatched] } : null, fits }));
      return;
    }
    const dtypes = new Map<string, number>();
    for (const t of tensors) dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
    console.log(`${path}: ${ckpt.format}${ckpt.container ? ` (state dict under '${ckpt.container}')` : ''}, ${tensors.length} tensors, ` +
      `${params.toLocaleString('en-US')} parameters, ${[...dtypes].map(([d, n]) => `${n} ${d}`).join(', ')}`);
    for (const t of tensors) console.log(`  ${t.key.padEnd(44)} ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]`);
    if (ckpt.skipped.length) console.log(`skipped (not weights): ${ckpt.skipped.join('; ')}`);
    console.log(`the weights: ${formatSummary(summary)}${summary.heads === undefined ? ' (heads are not stored in the weights)' : ''}`);
    if (config) {
      console.log(config.fit.exact ? `config.json: ${config.label}: fits${config.fit.notes.length ? ` (${config.fit.notes.join('; ')})` : ''}`
        : `config.json: ${config.label}: does not fit: ${why(config.fit)}`);
    }
    const exact = fits.filter((f) => f.exact);
    if (exact.length) {
      console.log('fits:');
      for (const f of exact) console.log(`  ${f.name}${f.notes.length ? ` (${f.notes.join('; ')})` : ''}`);
    } else {
      console.log('fits no registry architecture exactly; closest (shape agreement, then structure):');
      for (const f of fits.slice(0, 3)) {
        console.log(`  ${f.name}: ${f.differs.length ? `differs in ${f.differs.join(', ')}; ` : ''}${f.matched} keys match; ${why(f)}`);
      }
    }
  } finally {
    ckpt.close();
  }
}
