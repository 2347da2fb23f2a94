// A restricted pickle decoder: builds only None/bool/int/float/str/bytes, lists, tuples, dicts, sets and what the
// caller's `resolveGlobal` allows (the torch tensor-rebuild functions, OrderedDict) — the rule of
// torch.load(weights_only=True). A global outside the allowlist is refused by name the moment it is read; nothing
// from the file is ever executed. Every opcode consumes input, so decoding is linear in the pickle's size.
import { VitError } from '../errors.ts';

/** A callable the allowlist hands out (REDUCE / NEWOBJ call it with the decoded argument tuple). */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: PyValue[]) => PyValue,
  ) {}
}

/** Any object the caller builds (tensors, storages); BUILD on one calls its `setState` if it has one. */
export interface PyObject {
  readonly pyType: string;
  setState?(state: PyValue): void;
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | PyValue[]
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | PyCallable
  | PyObject;

export interface UnpickleOptions {
  /** Checkpoint path, for messages. */
  what: string;
  /** Returns the object for `module.name`, or throws (refuses). */
  resolveGlobal(module: string, name: string): PyValue;
  persistentLoad?(pid: PyValue): PyValue;
}

/** Thrown when the buffer ends mid-pickle (the caller may retry with more data). */
export class PickleTruncated extends VitError {}

export const pyTypeName = (v: unknown): string =>
  v === null ? 'None' : Array.isArray(v) ? 'list' : v instanceof Map ? 'dict' : v instanceof Set ? 'set' : Buffer.isBuffer(v) ? 'bytes'
    : v instanceof PyCallable ? `global ${v.qualname}` : typeof v === 'object' ? (v as PyObject).pyType ?? 'object' : typeof v;

// Python 2 module names protocol <= 2 pickles carry (pickle's fix_imports), and os's platform modules.
const ALIASES: Record<string, string> = { __builtin__: 'builtins', commands: 'subprocess', posix: 'os', nt: 'os', copy_reg: 'copyreg' };

export function refuseGlobal(what: string, qualname: string, why = ''): VitError {
  const mod = qualname.slice(0, qualname.lastIndexOf('.'));
  const alias = ALIASES[mod] ? ` (${ALIASES[mod]}${qualname.slice(mod.length)})` : '';
  const e = new VitError('VIT_E_CHECKPOINT',
    `${what}: refusing to load: the pickle references the global '${qualname}'${alias}, which is not an allowed tensor-rebuild ` +
    `function or container${why ? ` (${why})` : ''}. vitnode never executes code from a checkpoint (the rule of ` +
    `torch.load(weights_only=True)); convert the file to safetensors with a trusted PyTorch if you need it.`);
  (e as VitError & { global?: string }).global = qualname;
  return e;
}

const MAX_DEPTH_STACK = 1 << 20;

/** Decodes one pickle starting at `pos`; returns the value and the offset after its STOP opcode. */
export function unpickle(buf: Buffer, pos: number, opts: UnpickleOptions): { value: PyValue; end: number } {
  const what = opts.what;
  const fail = (msg: string) => new VitError('VIT_E_CHECKPOINT', `${what}: invalid pickle at byte ${pos}: ${msg}`);
  const need = (n: number) => {
    if (pos + n > buf.length) throw new PickleTruncated('VIT_E_CHECKPOINT', `${what}: pickle data ends early (truncated file?)`);
  };
  const u8 = () => {
    need(1);
    return buf[pos++];
  };
  const take = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0) throw fail(`bad length ${n}`);
    need(n);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const u32 = () => {
    need(4);
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(buf.length)) throw new PickleTruncated('VIT_E_CHECKPOINT', `${what}: pickle length ${v} exceeds the data (truncated file?)`);
    return Number(v);
  };
  const line = () => {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) throw new PickleTruncated('VIT_E_CHECKPOINT', `${what}: pickle data ends early (truncated file?)`);
    const s = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    return s;
  };

  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const push = (v: PyValue) => {
    if (stack.length >= MAX_DEPTH_STACK) throw fail('stack too deep');
    stack.push(v);
  };
  // Values above the innermost MARK only (Python's metastack): nothing pops through a MARK.
  const floor = () => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): PyValue => {
    if (stack.length <= floor()) throw fail('stack underflow');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= floor()) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) throw fail('no MARK');
    return stack.splice(m);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw fail(`memo key ${i} not defined`);
    return memo.get(i)!;
  };
  const asList = (v: PyValue, op: string): PyValue[] => {
    if (!Array.isArray(v)) throw fail(`${op} on a ${pyTypeName(v)}`);
    return v;
  };
  const asDict = (v: PyValue, op: string): Map<PyValue, PyValue> => {
    if (!(v instanceof Map)) throw fail(`${op} on a ${pyTypeName(v)}`);
    return v;
  };
  const key = (k: PyValue): PyValue => (typeof k === 'bigint' && k >= BigInt(Number.MIN_SAFE_INTEGER) && k <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k) : k);
  const setItems = (d: Map<PyValue, PyValue>, items: PyValue[]) => {
    if (items.length % 2) throw fail('odd number of SETITEMS values');
    for (let i = 0; i < items.length; i += 2) d.set(key(items[i]), items[i + 1]);
  };
  const global = (mod: string, name: string): PyValue => {
    if (!/^[\w.]+$/.test(mod) || !/^[\w.]+$/.test(name)) throw refuseGlobal(what, `${mod}.${name}`.slice(0, 200), 'not a valid name');
    return opts.resolveGlobal(mod, name);
  };
  const call = (fn: PyValue, args: PyValue, op: string): PyValue => {
    if (!(fn instanceof PyCallable)) throw fail(`${op} on a ${pyTypeName(fn)} (only allowlisted globals can be called)`);
    if (!Array.isArray(args)) throw fail(`${op} arguments are a ${pyTypeName(args)}, not a tuple`);
    return fn.call(args);
  };
  const int = (b: Buffer): number | bigint => {
    // little-endian two's complement (LONG1 / LONG4)
    if (b.length === 0) return 0;
    if (b.length > 64) throw fail(`integer of ${b.length} bytes`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textInt = (s: string): number | bigint | boolean => {
    if (s === '01') return true;
    if (s === '00') return false;
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) throw fail(`bad integer '${s.slice(0, 40)}'`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw fail('pickle protocol > 5');
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        const v = pop();
        return { value: v, end: pos };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length && stack.length === floor()) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: // BININT2
        need(2);
        push(buf.readUInt16LE(pos));
        pos += 2;
        break;
      case 0x4a: // BININT
        need(4);
        push(buf.readInt32LE(pos));
        pos += 4;
        break;
      case 0x8a: push(int(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        need(4);
        const n = buf.readInt32LE(pos);
        pos += 4;
        push(int(take(n)));
        break;
      }
      case 0x49: push(textInt(line())); break; // INT
      case 0x4c: push(textInt(line())); break; // LONG
      case 0x47: // BINFLOAT
        need(8);
        push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      case 0x46: { // FLOAT
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s.trim())) throw fail(`bad float '${s.slice(0, 40)}'`);
        push(v);
        break;
      }
      case 0x58: push(take(u32()).toString('utf8')); break; // BINUNICODE
      case 0x8c: push(take(u8()).toString('utf8')); break; // SHORT_BINUNICODE
      case 0x8d: push(take(u64()).toString('utf8')); break; // BINUNICODE8
      case 0x56: push(unescapeRawUnicode(line())); break; // UNICODE
      case 0x54: push(take(u32()).toString('latin1')); break; // BINSTRING (py2 str)
      case 0x55: push(take(u8()).toString('latin1')); break; // SHORT_BINSTRING
      case 0x53: push(parseQuoted(line(), fail)); break; // STRING
      case 0x42: push(Buffer.from(take(u32()))); break; // BINBYTES
      case 0x43: push(Buffer.from(take(u8()))); break; // SHORT_BINBYTES
      case 0x8e: push(Buffer.from(take(u64()))); break; // BINBYTES8
      case 0x96: push(Buffer.from(take(u64()))); break; // BYTEARRAY8
      case 0x29: push([]); break; // EMPTY_TUPLE
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x8f: push(new Set()); break; // EMPTY_SET
      case 0x74: push(popMark()); break; // TUPLE
      case 0x6c: push(popMark()); break; // LIST
      case 0x85: push([pop()]); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        push([pop(), b, c]);
        break;
      }
      case 0x64: { // DICT
        const d = new Map<PyValue, PyValue>();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x91: push(new Set(popMark().map(key))); break; // FROZENSET
      case 0x61: { // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const l = asList(top(), 'APPENDS');
        for (const it of items) l.push(it);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        asDict(top(), 'SETITEM').set(key(k), v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(asDict(top(), 'SETITEMS'), items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw fail(`ADDITEMS on a ${pyTypeName(s)}`);
        for (const it of items) s.add(key(it));
        break;
      }
      case 0x70: memo.set(textIndex(line(), fail), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: push(memoGet(textIndex(line(), fail))); break; // GET
      case 0x68: push(memoGet(u8())); break; // BINGET
      case 0x6a: push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL
        const mod = line();
        const name = line();
        push(global(mod, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const mod = pop();
        if (typeof mod !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL needs two strings');
        push(global(mod, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) throw fail('NEWOBJ_EX with keyword arguments');
        push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        const o = obj as PyObject;
        if (obj && typeof obj === 'object' && !Array.isArray(obj) && !(obj instanceof Map) && !(obj instanceof Set) && !Buffer.isBuffer(obj) &&
          !(obj instanceof PyCallable) && typeof o.setState === 'function') {
          o.setState(state);
        } else {
          throw fail(`BUILD (__setstate__) on a ${pyTypeName(obj)} is not allowed`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) throw fail('persistent id without a loader');
        push(opts.persistentLoad(pid));
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (!opts.persistentLoad) throw fail('persistent id without a loader');
        push(opts.persistentLoad(pid));
        break;
      }
      case 0x69: { // INST: module\nname\n, args from MARK
        const mod = line();
        const name = line();
        const g = global(mod, name);
        push(call(g, popMark(), 'INST'));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args...
        const items = popMark();
        if (!items.length) throw fail('OBJ without a class');
        push(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x82: case 0x83: case 0x84: { // EXT1/2/4: the copyreg extension registry names globals by number
        const code = op === 0x82 ? u8() : op === 0x83 ? take(2).readUInt16LE(0) : u32();
        throw refuseGlobal(what, `copyreg extension #${code}`, 'extension registry');
      }
      case 0x97: case 0x98: // NEXT_BUFFER / READONLY_BUFFER: out-of-band buffers
        throw fail('out-of-band pickle buffers are not supported');
      default:
        pos = opPos;
        throw fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function textIndex(s: string, fail: (m: string) => Error): number {
  if (!/^\d{1,9}$/.test(s)) throw fail(`bad memo index '${s.slice(0, 20)}'`);
  return Number(s);
}

function parseQuoted(s: string, fail: (m: string) => Error): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) throw fail('STRING argument not quoted');
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[\\'"nrt])/g, (_, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e);
}

function unescapeRawUnicode(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string, b: string) => {
    const cp = parseInt(a ?? b, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}
