import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_DOCUMENT_DEPTH,
  MAX_MALFORMED_MESSAGES,
  MAX_MESSAGE_CHARS,
  formatMalformed,
  readEvents,
  readNdjson,
  type MalformedLine,
  type NdjsonLimits,
  type NdjsonRecord,
} from '../../src/cli/ndjson.js';
import { TextSink as Sink } from '../support/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'execwarden-ndjson-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Runs readEvents over `inputs` the way query and replay do. */
async function readAll(inputs: string[], options: { stdin?: NodeJS.ReadableStream; limits?: Partial<NdjsonLimits> } = {}) {
  const stderr = new Sink();
  const counts = { malformed: 0 };
  const records: NdjsonRecord[] = [];
  for await (const record of readEvents(inputs, { stdin: options.stdin, stderr }, counts, options.limits)) records.push(record);
  return { records, counts, stderr };
}

function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

// Raw terminal controls, C1 controls, bidi controls and line separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

describe('document depth', () => {
  it('skips a line nested 5,000 deep with its line number and reads the lines after it', async () => {
    const path = file('deep.ndjson', `{"n":1}\n${nested(5000)}\n{"n":3}\n`);
    const { records, counts, stderr } = await readAll([path]);
    expect(records.map((r) => [r.line, r.value])).toEqual([[1, { n: 1 }], [3, { n: 3 }]]);
    expect(counts.malformed).toBe(1);
    expect(stderr.lines()).toEqual([`execwarden: ${path}:2: skipped malformed line: nested deeper than 64 levels`]);
  });

  it(`accepts ${MAX_DOCUMENT_DEPTH} levels and rejects ${MAX_DOCUMENT_DEPTH + 1}, counting arrays`, async () => {
    const arrays = `{"a":${'['.repeat(MAX_DOCUMENT_DEPTH - 1)}${']'.repeat(MAX_DOCUMENT_DEPTH - 1)}}`;
    const path = file('limit.ndjson', [nested(MAX_DOCUMENT_DEPTH), nested(MAX_DOCUMENT_DEPTH + 1), arrays, `{"b":${arrays}}`].join('\n'));
    const { records, stderr } = await readAll([path]);
    expect(records.map((r) => r.line)).toEqual([1, 3]);
    expect(stderr.lines().map((l) => l.slice(path.length + 'execwarden: '.length))).toEqual([
      ':2: skipped malformed line: nested deeper than 64 levels',
      ':4: skipped malformed line: nested deeper than 64 levels',
    ]);
  });

  it('takes the limit as a parameter', async () => {
    const { records, stderr } = await readAll(['-'], { stdin: new PassThrough().end('{"a":{}}\n{"a":{"b":{}}}\n'), limits: { maxDepth: 2 } });
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(stderr.lines()).toEqual(['execwarden: -:2: skipped malformed line: nested deeper than 2 levels']);
  });
});

describe('malformed-line messages', () => {
  it('escapes ESC, C1 controls, bidi overrides and line separators quoted from the input', async () => {
    const path = file('controls.ndjson', '{"ok":1}\n{"a":\u001b\u009b\u202e\u2028\u2029\u0085}\n');
    const { records, counts, stderr } = await readAll([path]);
    expect(records).toHaveLength(1);
    expect(counts.malformed).toBe(1);
    const lines = stderr.text.split('\n');
    expect(lines.slice(1)).toEqual(['']);
    const message = lines[0]!;
    expect(message).toMatch(new RegExp(`^execwarden: .*:2: skipped malformed line: not JSON \\(`));
    expect(message).not.toMatch(UNSAFE);
    for (const shown of ['\\x1b', '\\x9b', '\\u{202e}', '\\u{2028}', '\\u{2029}', '\\x85']) expect(message).toContain(shown);
  });

  it('caps a message at the escaped length, without splitting an escape', () => {
    const problem: MalformedLine = { source: 'in\u001b.ndjson', line: 7, message: '\u001b'.repeat(1000) };
    const text = formatMalformed(problem);
    expect(text).not.toMatch(UNSAFE);
    expect(text.startsWith('in\\x1b.ndjson:7: skipped malformed line: ')).toBe(true);
    const message = text.slice('in\\x1b.ndjson:7: skipped malformed line: '.length);
    expect(message).toBe(`${'\\x1b'.repeat(MAX_MESSAGE_CHARS / 4)}…(+${1000 - MAX_MESSAGE_CHARS / 4} chars)`);
    expect(formatMalformed({ ...problem, message: 'x'.repeat(30) }, 10)).toBe(`in\\x1b.ndjson:7: skipped malformed line: ${'x'.repeat(10)}…(+20 chars)`);
    expect(formatMalformed({ ...problem, message: 'short' })).toBe('in\\x1b.ndjson:7: skipped malformed line: short');
  });

  it(`prints at most ${MAX_MALFORMED_MESSAGES} messages and one summary line, and counts all 1,000 malformed lines`, async () => {
    const garbage = Array.from({ length: 1000 }, (_, i) => `garbage ${i}`);
    const path = file('garbage.ndjson', `${garbage.join('\n')}\n{"ok":true}\n`);
    const { records, counts, stderr } = await readAll([path]);
    expect(counts.malformed).toBe(1000);
    expect(records.map((r) => r.line)).toEqual([1001]);
    const lines = stderr.lines();
    expect(lines).toHaveLength(MAX_MALFORMED_MESSAGES + 1);
    expect(lines[0]).toContain(`${path}:1: skipped malformed line: not JSON`);
    expect(lines[MAX_MALFORMED_MESSAGES - 1]).toContain(`${path}:${MAX_MALFORMED_MESSAGES}: skipped malformed line`);
    expect(lines.at(-1)).toBe(`execwarden: more than ${MAX_MALFORMED_MESSAGES} malformed lines; further ones are counted but not shown`);
  });

  it('counts messages across all the inputs of one run', async () => {
    const a = file('bad-a.ndjson', 'x\ny\n');
    const b = file('bad-b.ndjson', 'z\n');
    const { counts, stderr } = await readAll([a, b], { limits: { maxMessages: 2 } });
    expect(counts.malformed).toBe(3);
    expect(stderr.lines()).toEqual([
      expect.stringContaining(`${a}:1:`),
      expect.stringContaining(`${a}:2:`),
      'execwarden: more than 2 malformed lines; further ones are counted but not shown',
    ]);
  });
});

describe('line length', () => {
  it('skips a line longer than the cap as malformed and reads the lines around it', async () => {
    const stdin = new PassThrough();
    const reading = readAll(['-'], { stdin, limits: { maxLineBytes: 16 } });
    // Line 3 is exactly 16 bytes, line 4 is 17. Written in small pieces so the lines straddle chunks.
    const text = `{"n":1}\n{"long":"${'x'.repeat(100)}"}\n{"n":"01234567"}\n{"n":"012345678"}\n{"n":5}`;
    for (let i = 0; i < text.length; i += 7) stdin.write(text.slice(i, i + 7));
    stdin.end();
    const { records, counts, stderr } = await reading;
    expect(records.map((r) => r.line)).toEqual([1, 3, 5]);
    expect(counts.malformed).toBe(2);
    expect(stderr.lines()).toEqual([
      'execwarden: -:2: skipped malformed line: line longer than 16 bytes',
      'execwarden: -:4: skipped malformed line: line longer than 16 bytes',
    ]);
  });

  it('reports an overlong line as soon as it passes the cap and drops its bytes as they arrive', async () => {
    const stdin = new PassThrough();
    const problems: MalformedLine[] = [];
    const reported = deferred<void>();
    const records = readNdjson(['-'], stdin, (problem) => {
      problems.push(problem);
      reported.resolve();
    }, { maxLineBytes: 1024 });
    const next = records.next();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 16; i++) stdin.write(chunk);
    await reported.promise;
    expect(problems).toEqual([{ source: '-', line: 1, message: 'line longer than 1024 bytes' }]);
    for (let i = 0; i < 16; i++) stdin.write(chunk);
    stdin.end('\n{"after":true}\n');
    const result = await next;
    expect(result.value).toEqual({ value: { after: true }, source: '-', line: 2 });
    expect(problems).toHaveLength(1);
  });

  it('reports an overlong last line without a newline once', async () => {
    const path = file('long-tail.ndjson', `{"n":1}\n${'y'.repeat(200)}`);
    const { records, stderr } = await readAll([path], { limits: { maxLineBytes: 64 } });
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(stderr.lines()).toEqual([`execwarden: ${path}:2: skipped malformed line: line longer than 64 bytes`]);
  });
});

describe('line splitting', () => {
  it('accepts CRLF, a last line without a newline and UTF-8 split across chunks, and skips blank lines', async () => {
    const stdin = new PassThrough();
    const reading = readAll(['-'], { stdin });
    const bytes = Buffer.from('{"n":"é€😀"}\r\n\n  \n{"n":2}');
    for (let i = 0; i < bytes.length; i++) stdin.write(bytes.subarray(i, i + 1));
    stdin.end();
    const { records, counts } = await reading;
    expect(records.map((r) => [r.line, r.value])).toEqual([[1, { n: 'é€😀' }], [4, { n: 2 }]]);
    expect(counts.malformed).toBe(0);
  });

  it('leaves stdin open when the reader stops early', async () => {
    const stdin = new PassThrough();
    stdin.write('{"n":1}\n{"n":2}\n');
    const records = readNdjson(['-'], stdin, () => {});
    expect((await records.next()).value).toMatchObject({ line: 1 });
    await records.return(undefined);
    expect(stdin.destroyed).toBe(false);
  });

  it('still reports an unreadable file as INPUT_UNREADABLE', async () => {
    await expect(readAll([join(dir, 'missing.ndjson')])).rejects.toMatchObject({ code: 'INPUT_UNREADABLE' });
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T | Promise<T>) => void } {
  let resolve!: (value: T | Promise<T>) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
