/**
 * Reads typed values out of a parsed TOML table and records a positioned diagnostic for every
 * field that is missing, of the wrong type or out of range, instead of stopping at the first.
 * Shared by the rule and the exception file validators.
 */
import { RuleDiagnosticCode, type RuleDiagnostic, type DiagnosticSeverity } from './diagnostics.js';
import { pathKey, type TomlKeyLocator, type TomlPath } from './toml-positions.js';

export type TomlTable = Record<string, unknown>;

export function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export class TomlChecker {
  readonly diagnostics: RuleDiagnostic[] = [];
  ruleId: string | undefined;

  constructor(
    readonly file: string,
    readonly locator: TomlKeyLocator,
  ) {}

  report(severity: DiagnosticSeverity, code: RuleDiagnosticCode, path: TomlPath, message: string): void {
    const { line, column } = this.locator.position(path);
    this.diagnostics.push({ severity, code, file: this.file, line, column, message, ...(this.ruleId ? { ruleId: this.ruleId } : {}) });
  }

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }

  table(parent: TomlTable, path: TomlPath, required: boolean): TomlTable | undefined {
    const value = parent[path[path.length - 1] as string];
    if (value === undefined) {
      if (required) this.missing(path);
      return undefined;
    }
    if (!isTable(value)) {
      this.wrongType(path, 'a table');
      return undefined;
    }
    return value;
  }

  string(parent: TomlTable, path: TomlPath, required: boolean): string | undefined {
    const value = parent[path[path.length - 1] as string];
    if (value === undefined) {
      if (required) this.missing(path);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.wrongType(path, 'a string');
      return undefined;
    }
    if (required && value.trim() === '') {
      this.report('error', RuleDiagnosticCode.InvalidValue, path, `${pathKey(path)} must not be empty`);
      return undefined;
    }
    return value;
  }

  /** A string that must satisfy `test`; `expected` says what it should look like. */
  matching(parent: TomlTable, path: TomlPath, required: boolean, test: (v: string) => boolean, expected: string): string | undefined {
    const value = this.string(parent, path, required);
    if (value === undefined) return undefined;
    if (!test(value)) {
      this.report('error', RuleDiagnosticCode.InvalidValue, path, `${pathKey(path)} must be ${expected}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  stringArray(parent: TomlTable, path: TomlPath, required: boolean, nonEmpty = false): string[] | undefined {
    const value = parent[path[path.length - 1] as string];
    if (value === undefined) {
      if (required) this.missing(path);
      return undefined;
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      this.wrongType(path, 'an array of strings');
      return undefined;
    }
    if (nonEmpty && value.length === 0) {
      this.report('error', RuleDiagnosticCode.InvalidValue, path, `${pathKey(path)} must not be empty`);
      return undefined;
    }
    return value as string[];
  }

  integer(parent: TomlTable, path: TomlPath, required: boolean, min: number, max: number): number | undefined {
    const value = parent[path[path.length - 1] as string];
    if (value === undefined) {
      if (required) this.missing(path);
      return undefined;
    }
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      this.wrongType(path, 'an integer');
      return undefined;
    }
    if (n < min || n > max) {
      this.report('error', RuleDiagnosticCode.InvalidValue, path, `${pathKey(path)} must be between ${min} and ${max}, got ${n}`);
      return undefined;
    }
    return n;
  }

  /** An array of tables (`[[x]]`); a lone table is reported as the wrong type. */
  tableArray(parent: TomlTable, path: TomlPath, required: boolean): TomlTable[] | undefined {
    const value = parent[path[path.length - 1] as string];
    if (value === undefined) {
      if (required) this.missing(path);
      return undefined;
    }
    if (!Array.isArray(value) || !value.every(isTable)) {
      this.wrongType(path, 'an array of tables');
      return undefined;
    }
    return value;
  }

  unknownKeys(table: TomlTable, path: TomlPath, known: ReadonlySet<string>): void {
    for (const key of Object.keys(table)) {
      if (!known.has(key)) this.report('warning', RuleDiagnosticCode.UnknownKey, [...path, key], `unknown key ${pathKey([...path, key])} (ignored)`);
    }
  }

  private missing(path: TomlPath): void {
    this.report('error', RuleDiagnosticCode.MissingField, path, `missing required field ${pathKey(path)}`);
  }

  private wrongType(path: TomlPath, expected: string): void {
    this.report('error', RuleDiagnosticCode.WrongType, path, `${pathKey(path)} must be ${expected}`);
  }
}
