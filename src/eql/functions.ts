/**
 * EQL's built-in functions. Names are resolved case-insensitively (`CONCAT` is `concat`); the
 * string functions marked `hasInsensitiveVariant` also exist as `fn~(...)`, which compares
 * case-insensitively. Every function returns null when a value argument is null, as in
 * Elasticsearch. Arguments arrive as non-null-normalised scalars or null; multi-valued first
 * arguments are mapped element by element by the compiler, not here.
 */
import { scalarToString } from './comparison.js';

export interface FunctionSpec {
  /** Canonical name, as Elasticsearch documents it. */
  readonly name: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly hasInsensitiveVariant: boolean;
  /** Argument positions that must be constants (checked by the semantic pass). */
  readonly constantArgs: readonly number[];
  /** add, subtract, multiply, divide, modulo: the operator they share with arithmetic expressions. */
  readonly arithmeticOperator?: '+' | '-' | '*' | '/' | '%';
  evaluate(args: readonly unknown[], caseInsensitive: boolean): unknown;
}

/** Integer arithmetic when both sides are integers, unless a literal operand was written as a float. */
export function arithmetic(op: '+' | '-' | '*' | '/' | '%', a: unknown, b: unknown, floatDivision: boolean): number | null {
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (b === 0) return null;
      return !floatDivision && Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
    case '%':
      if (b === 0) return null;
      return a % b;
  }
}

function text(value: unknown, caseInsensitive: boolean): string | null {
  const s = scalarToString(value);
  return s !== null && caseInsensitive ? s.toLowerCase() : s;
}

function integerArg(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) : null;
}

function between(args: readonly unknown[], ci: boolean): string | null {
  const source = scalarToString(args[0]);
  const left = text(args[1], ci);
  const right = text(args[2], ci);
  if (source === null || left === null || right === null) return null;
  const greedy = args[3] === true;
  const haystack = ci ? source.toLowerCase() : source;
  const leftAt = haystack.indexOf(left);
  if (leftAt < 0) return '';
  const start = leftAt + left.length;
  const end = greedy ? haystack.lastIndexOf(right) : haystack.indexOf(right, start);
  if (end < start) return '';
  return source.substring(start, end);
}

function substring(args: readonly unknown[]): string | null {
  const source = scalarToString(args[0]);
  const startArg = integerArg(args[1]);
  if (source === null || startArg === null) return null;
  const length = source.length;
  const endArg = args.length > 2 && args[2] !== null ? integerArg(args[2]) : length;
  if (endArg === null) return null;
  const clamp = (i: number): number => (i < 0 ? Math.max(0, length + i) : Math.min(i, length));
  const start = clamp(startArg);
  const end = clamp(endArg);
  return start < end ? source.slice(start, end) : '';
}

function indexOf(args: readonly unknown[], ci: boolean): number | null {
  const source = text(args[0], ci);
  const needle = text(args[1], ci);
  if (source === null || needle === null) return null;
  const from = args.length > 2 && args[2] !== null ? integerArg(args[2]) : 0;
  if (from === null) return null;
  if (from > source.length) return null;
  const found = source.indexOf(needle, Math.max(0, from));
  return found < 0 ? null : found;
}

function toNumber(args: readonly unknown[]): number | null {
  const value = args[0];
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return null;
  const base = args.length > 1 && args[1] !== null ? integerArg(args[1]) : 10;
  if (base === null || base < 2 || base > 36) return null;
  const trimmed = value.trim();
  if (base === 10) {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return null;
    return Number(trimmed);
  }
  let digits = trimmed;
  let sign = 1;
  if (digits.startsWith('-') || digits.startsWith('+')) {
    sign = digits.startsWith('-') ? -1 : 1;
    digits = digits.slice(1);
  }
  if (base === 16 && /^0x/i.test(digits)) digits = digits.slice(2);
  if (digits.length === 0) return null;
  for (const char of digits.toLowerCase()) {
    const digit = parseInt(char, 36);
    if (Number.isNaN(digit) || digit >= base) return null;
  }
  return sign * parseInt(digits, base);
}

// ---- cidrMatch ---------------------------------------------------------------------------------

/** An address as 16 bytes (IPv4 as IPv4-mapped IPv6), or null when it does not parse. */
export function parseIp(text: string): Uint8Array | null {
  if (text.includes(':')) return parseIpv6(text);
  const v4 = parseIpv4(text);
  if (v4 === null) return null;
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(v4, 12);
  return bytes;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  const address = zone >= 0 ? text.slice(0, zone) : text;
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

export interface CidrBlock {
  bytes: Uint8Array;
  prefixBits: number;
}

/** Parses "10.0.0.0/8", "fe80::/10" or a bare address (a /32 or /128 block). */
export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf('/');
  const address = slash >= 0 ? text.slice(0, slash) : text;
  const bytes = parseIp(address);
  if (bytes === null) return null;
  const isV4 = !address.includes(':');
  const maxBits = isV4 ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix)) return null;
    bits = Number(suffix);
    if (bits > maxBits) return null;
  }
  return { bytes, prefixBits: isV4 ? bits + 96 : bits };
}

export function cidrContains(block: CidrBlock, ip: Uint8Array): boolean {
  let bits = block.prefixBits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((block.bytes[i] & mask) !== (ip[i] & mask)) return false;
  }
  return true;
}

function cidrMatch(args: readonly unknown[]): boolean | null {
  const address = scalarToString(args[0]);
  if (address === null) return null;
  const ip = parseIp(address);
  if (ip === null) return false;
  for (let i = 1; i < args.length; i++) {
    const cidr = scalarToString(args[i]);
    const block = cidr === null ? null : parseCidr(cidr);
    if (block !== null && cidrContains(block, ip)) return true;
  }
  return false;
}

// ---- registry ----------------------------------------------------------------------------------

function define(
  name: string,
  minArgs: number,
  maxArgs: number,
  evaluate: FunctionSpec['evaluate'],
  options: { insensitive?: boolean; constantArgs?: number[]; arithmeticOperator?: FunctionSpec['arithmeticOperator'] } = {},
): FunctionSpec {
  return Object.freeze({
    arithmeticOperator: options.arithmeticOperator,
    name,
    minArgs,
    maxArgs,
    hasInsensitiveVariant: options.insensitive === true,
    constantArgs: Object.freeze(options.constantArgs ?? []),
    evaluate,
  });
}

const arithmeticFunction = (name: string, op: '+' | '-' | '*' | '/' | '%'): FunctionSpec =>
  define(name, 2, 2, (args) => arithmetic(op, args[0], args[1], false), { arithmeticOperator: op });

const SPECS: FunctionSpec[] = [
  arithmeticFunction('add', '+'),
  define('between', 3, 4, between, { insensitive: true, constantArgs: [3] }),
  define('cidrMatch', 2, Infinity, cidrMatch, { constantArgs: [] }),
  define('concat', 1, Infinity, (args) => {
    let out = '';
    for (const arg of args) {
      const s = scalarToString(arg);
      if (s === null) return null;
      out += s;
    }
    return out;
  }),
  arithmeticFunction('divide', '/'),
  define('endsWith', 2, 2, (args, ci) => {
    const s = text(args[0], ci);
    const suffix = text(args[1], ci);
    return s === null || suffix === null ? null : s.endsWith(suffix);
  }, { insensitive: true }),
  define('indexOf', 2, 3, indexOf, { insensitive: true }),
  define('length', 1, 1, (args) => {
    const s = scalarToString(args[0]);
    return s === null ? null : s.length;
  }),
  arithmeticFunction('modulo', '%'),
  arithmeticFunction('multiply', '*'),
  define('number', 1, 2, toNumber),
  define('startsWith', 2, 2, (args, ci) => {
    const s = text(args[0], ci);
    const prefix = text(args[1], ci);
    return s === null || prefix === null ? null : s.startsWith(prefix);
  }, { insensitive: true }),
  define('string', 1, 1, (args) => scalarToString(args[0])),
  define('stringContains', 2, 2, (args, ci) => {
    const s = text(args[0], ci);
    const needle = text(args[1], ci);
    return s === null || needle === null ? null : s.includes(needle);
  }, { insensitive: true }),
  define('substring', 2, 3, substring),
  arithmeticFunction('subtract', '-'),
];

const BY_LOWER_NAME = new Map(SPECS.map((spec) => [spec.name.toLowerCase(), spec]));

export function lookupFunction(name: string): FunctionSpec | undefined {
  return BY_LOWER_NAME.get(name.toLowerCase());
}

export const FUNCTION_NAMES: readonly string[] = Object.freeze(SPECS.map((spec) => spec.name));
