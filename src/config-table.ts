/**
 * Checked reading of a parsed TOML table (the agent's config file). Each reader knows its key path;
 * every problem is recorded as `path.key: problem` into one shared list, so a single start-up
 * attempt reports all of them; `done()` flags the keys nobody asked for, because a misspelt
 * setting that is silently ignored is worse than one that stops start-up.
 */

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  // Plain objects, including TOML parsers' null-prototype tables; not dates or other classes.
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

export class TableReader {
  private readonly seen = new Set<string>();

  /** `path` is the table's own key path, '' for the root. */
  constructor(
    private readonly table: Table,
    readonly path: string,
    readonly issues: string[],
  ) {}

  private keyPath(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  keys(): string[] {
    return Object.keys(this.table);
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  fail(key: string, problem: string): void {
    this.issues.push(`${this.keyPath(key)}: ${problem}`);
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.table[key];
  }

  /** A non-empty string. */
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string | undefined;
  string(key: string, fallback?: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value === 'string' && value !== '') return value;
    this.fail(key, 'expected a non-empty string');
    return fallback;
  }

  /** Any string, the empty one included (settings where "" means "off"). */
  text(key: string, fallback: string): string {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value === 'string') return value;
    this.fail(key, 'expected a string');
    return fallback;
  }

  strings(key: string, fallback: string[]): string[] {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    this.fail(key, 'expected an array of strings');
    return fallback;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    this.fail(key, 'expected true or false');
    return fallback;
  }

  choice<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.fail(key, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return fallback;
  }

  /** An integer in [min, max]; `what` describes it in the problem (default: the range). */
  integer(key: string, fallback: number, min: number, max: number, what = `an integer from ${min} to ${max}`): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    const number = typeof value === 'bigint' ? Number(value) : value;
    if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max) return number;
    this.fail(key, `expected ${what}`);
    return fallback;
  }

  /** A nested table; undefined (with a problem recorded) when the key holds something else. */
  sub(key: string): TableReader | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isTable(value)) {
      this.fail(key, 'expected a table');
      return undefined;
    }
    return new TableReader(value, this.keyPath(key), this.issues);
  }

  /** Reports every key that no reader asked for. */
  done(): void {
    for (const key of Object.keys(this.table)) {
      if (!this.seen.has(key)) this.fail(key, 'unknown key');
    }
  }
}
