// A restricted pickle virtual machine (protocols 0-5). It never imports or runs anything: GLOBAL /
// STACK_GLOBAL names are checked against an allowlist (refused with UnsafePickleError otherwise) and
// become PyGlobal markers; calling them (REDUCE, NEWOBJ, INST, OBJ) and BUILD are delegated to hooks
// supplied by the format (see torch-checkpoint.ts), which interpret the few allowlisted functions.
// Every length is checked against the bytes left, so a corrupt pickle gives a WeightsFormatError.
//
// Values: None -> null, bool, int -> number (bigint beyond 2^53), float -> number, str -> string,
// bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen array, dict -> plain object (keys as
// strings), set/frozenset -> Set.
import { UnsafePickleError, WeightsFormatError } from '../errors.js';

/** A module-level name the pickle referred to (already allowlisted). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface PickleHooks {
  /** Full names ('module.name') that GLOBAL may load. Anything else is refused. */
  allowed: ReadonlySet<string>;
  /** REDUCE / INST / OBJ / NEWOBJ: `fn` is an allowlisted global. */
  call(fn: PyGlobal, args: unknown[], kind: 'reduce' | 'newobj'): unknown;
  /** BUILD on a non-dict object; returns the (possibly replaced) object. */
  build?(obj: unknown, state: unknown): unknown;
  /** BINPERSID / PERSID. */
  persistentLoad?(pid: unknown): unknown;
}

/** Python 2 module names pickles of protocol <= 2 may use (as pickle's fix_imports does). */
const IMPORT_MAPPING: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** Longest integer (bytes of LONG1/LONG4, digits of INT/LONG) accepted: big-integer parsing is superlinear. */
const MAX_INT_BYTES = 4096;

/** Plain-object dicts made by the VM (to tell them from other objects for SETITEM / BUILD). */
const DICTS = new WeakSet<object>();

export function isPickleDict(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && DICTS.has(x);
}

/** A new dict value (plain object) that SETITEM accepts. */
export function newPickleDict(): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  DICTS.add(d);
  return d;
}

/** Sets `key` on a dict without ever touching its prototype (a key '__proto__' is just a key). */
export function setDictItem(d: Record<string, unknown>, key: unknown, value: unknown, source: string): void {
  Object.defineProperty(d, dictKey(key, source), { value, enumerable: true, writable: true, configurable: true });
}

function dictKey(k: unknown, source: string): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k === null) return String(k);
  if (Array.isArray(k) && k.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean' || x === null)) return k.map(String).join(',');
  throw new WeightsFormatError(source, `bad pickle: unsupported dict key of type ${typeof k}`);
}

function tuple(items: unknown[]): readonly unknown[] {
  return Object.freeze(items);
}

/** Most memo entries a pickle may define (each PUT is one opcode, so this only bounds absurd files). */
export const MAX_MEMO_ENTRIES = 4_000_000;

/** Runs the pickle in `bytes` and returns the value it builds. */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, source = 'pickle'): unknown {
  return unpickleAt(bytes, hooks, source).value;
}

/**
 * Runs the pickle that starts at `bytes[0]` and returns its value and `end`, the offset just past its
 * STOP opcode (legacy torch.save files hold several pickles and raw data back to back).
 */
export function unpickleAt(bytes: Uint8Array, hooks: PickleHooks, source = 'pickle'): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  let pos = 0;
  let opPos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');

  const fail = (problem: string): never => {
    throw new WeightsFormatError(source, `bad pickle: ${problem} (opcode at byte ${opPos})`);
  };
  const need = (k: number): void => {
    if (!Number.isSafeInteger(k) || k < 0 || pos + k > n) fail(`truncated: needs ${k} more bytes, ${n - pos} left`);
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const b = bytes.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: missing newline');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const u8 = () => take(1)[0];
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) fail(`length ${v} is larger than the pickle`);
    return Number(v);
  };
  const str = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = (): unknown => {
    if (!stack.length) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (!stack.length) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) fail('MARK missing');
    stack = prev!;
    return items;
  };
  const memoPut = (i: number, v: unknown): void => {
    if (!Number.isSafeInteger(i) || i < 0) fail(`memo key ${i} is not a non-negative integer`);
    if (memo.size >= MAX_MEMO_ENTRIES && !memo.has(i)) fail(`more than ${MAX_MEMO_ENTRIES} memo entries`);
    memo.set(i, v);
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} is not defined`);
    return memo.get(i);
  };
  const global = (module: string, name: string): PyGlobal => {
    const mod = IMPORT_MAPPING[module] ?? module;
    const full = `${mod}.${name}`;
    if (!hooks.allowed.has(full)) throw new UnsafePickleError(source, full);
    return new PyGlobal(mod, name);
  };
  const callable = (f: unknown, what: string): PyGlobal => {
    if (!(f instanceof PyGlobal)) fail(`${what} on a value that is not an allowlisted global`);
    return f as PyGlobal;
  };
  const argList = (a: unknown, what: string): unknown[] => {
    if (!Array.isArray(a)) fail(`${what} arguments are not a tuple`);
    return a as unknown[];
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!isPickleDict(target)) fail('SETITEM(S) on a value that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) setDictItem(target as Record<string, unknown>, items[i], items[i + 1], source);
  };
  const appendTo = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) fail('APPEND(S) on a value that is not a list');
    for (const it of items) (target as unknown[]).push(it);
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_INT_BYTES) fail(`integer of ${b.length} bytes is larger than any checkpoint needs (limit ${MAX_INT_BYTES})`);
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
  };
  const parseIntText = (s: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (t.length > MAX_INT_BYTES || !/^[-+]?\d+$/.test(t)) fail(`bad integer literal '${s.slice(0, 40)}'`);
    const v = BigInt(t);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };

  for (;;) {
    opPos = pos;
    if (pos >= n) fail('truncated: no STOP opcode');
    const op = bytes[pos++];
    switch (op) {
      // ---- framing / protocol
      case 0x80: { const p = u8(); if (p > 5) fail(`unsupported protocol ${p}`); break; } // PROTO
      case 0x95: u64(); break; // FRAME (length only; frames are not needed to parse)
      case 0x2e: { // STOP
        if (metastack.length) fail('STOP inside an open MARK');
        return { value: pop(), end: pos };
      }
      // ---- stack manipulation
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // ---- memo
      case 0x67: stack.push(memoGet(Number(parseIntText(readLine())))); break; // GET
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x70: memoPut(Number(parseIntText(readLine())), top()); break; // PUT
      case 0x71: memoPut(u8(), top()); break; // BINPUT
      case 0x72: memoPut(u32(), top()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size, top()); break; // MEMOIZE
      // ---- constants
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: stack.push(decodeLong(take(u8()))); break; // LONG1
      case 0x8b: { const k = i32(); if (k < 0) fail('negative LONG4 length'); stack.push(decodeLong(take(k))); break; } // LONG4
      case 0x49: { // INT (text; 00/01 are False/True)
        const s = readLine();
        stack.push(s === '00' ? false : s === '01' ? true : parseIntText(s));
        break;
      }
      case 0x4c: stack.push(parseIntText(readLine())); break; // LONG (text)
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x46: { // FLOAT (text)
        const s = readLine().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[-+]?nan$/i.test(s))) fail(`bad float literal '${s.slice(0, 40)}'`);
        stack.push(v);
        break;
      }
      // ---- strings and bytes
      case 0x58: stack.push(str(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(str(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(take(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(decodeRawUnicodeEscape(readLine())); break; // UNICODE (text)
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING (py2 str)
      case 0x54: { const k = i32(); if (k < 0) fail('negative BINSTRING length'); stack.push(latin1.decode(take(k))); break; } // BINSTRING
      case 0x53: stack.push(decodeStringLiteral(readLine(), fail)); break; // STRING (text repr)
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x96: stack.push(take(u64()).slice()); break; // BYTEARRAY8
      case 0x97: fail('out-of-band buffers (NEXT_BUFFER) are not supported'); break;
      case 0x98: top(); break; // READONLY_BUFFER: no-op here
      // ---- containers
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x74: { const t = tuple(popMark()); stack.push(t); break; } // TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: { const l = popMark(); stack.push(l); break; } // LIST
      case 0x61: { const v = pop(); appendTo(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendTo(top(), items); break; } // APPENDS
      case 0x7d: stack.push(newPickleDict()); break; // EMPTY_DICT
      case 0x64: { const items = popMark(); const d = newPickleDict(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set) || Object.isFrozen(s)) fail('ADDITEMS on a value that is not a set');
        for (const it of items) (s as Set<unknown>).add(it);
        break;
      }
      case 0x91: { const fs = Object.freeze(new Set(popMark())); stack.push(fs); break; } // FROZENSET
      // ---- globals and object construction
      case 0x63: { const m = readLine(); const nm = readLine(); stack.push(global(m, nm)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const nm = pop(), m = pop();
        if (typeof m !== 'string' || typeof nm !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(m as string, nm as string));
        break;
      }
      case 0x82: case 0x83: case 0x84: { // EXT1/2/4: the copyreg extension registry
        const code = op === 0x82 ? u8() : op === 0x83 ? u16() : i32();
        throw new UnsafePickleError(source, `copyreg extension code ${code}`);
      }
      case 0x52: { // REDUCE
        const args = pop();
        const f = callable(pop(), 'REDUCE');
        stack.push(hooks.call(f, argList(args, 'REDUCE'), 'reduce'));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = callable(pop(), 'NEWOBJ');
        stack.push(hooks.call(cls, argList(args, 'NEWOBJ'), 'newobj'));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = callable(pop(), 'NEWOBJ_EX');
        if (!isPickleDict(kwargs) || Object.keys(kwargs).length) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(hooks.call(cls, argList(args, 'NEWOBJ_EX'), 'newobj'));
        break;
      }
      case 0x69: { // INST
        const m = readLine(); const nm = readLine();
        const cls = global(m, nm);
        const args = popMark();
        stack.push(hooks.call(cls, args, 'newobj'));
        break;
      }
      case 0x6f: { // OBJ
        const items = popMark();
        if (!items.length) fail('OBJ without a class');
        stack.push(hooks.call(callable(items[0], 'OBJ'), items.slice(1), 'newobj'));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (isPickleDict(obj)) {
          // An OrderedDict's instance attributes (e.g. a state dict's `_metadata`): kept, not enumerable.
          const attrs = Array.isArray(state) && state.length === 2 ? state[0] : state;
          if (attrs !== null && !isPickleDict(attrs)) fail('BUILD state of a dict is not a dict');
          for (const [k, v] of Object.entries((attrs ?? {}) as Record<string, unknown>)) Object.defineProperty(obj, k, { value: v, enumerable: false, writable: true, configurable: true });
        } else if (hooks.build) {
          stack[stack.length - 1] = hooks.build(obj, state);
        } else fail('BUILD is not supported for this object');
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) fail('persistent ids are not supported here');
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x50: { // PERSID (text)
        const pid = readLine();
        if (!hooks.persistentLoad) fail('persistent ids are not supported here');
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Python's raw-unicode-escape (UNICODE opcode): only \uXXXX and \UXXXXXXXX are escapes. */
function decodeRawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string, b: string) => {
    const cp = parseInt(a ?? b, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : _;
  });
}

/** A Python 2 str repr ('...' or "...") as the STRING opcode writes it. */
function decodeStringLiteral(line: string, fail: (p: string) => never): string {
  const s = line.trim();
  if (s.length < 2 || (s[0] !== "'" && s[0] !== '"') || s[s.length - 1] !== s[0]) fail('STRING argument is not quoted');
  const body = s.slice(1, -1);
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => (e[0] === 'x' && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : esc[e] ?? `\\${e}`));
}
