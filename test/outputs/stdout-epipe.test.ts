/**
 * The stdout sink when its stream fails: a reader that went away (EPIPE) ends that output, not the
 * process. Fake streams stand in for a pipe whose reader exited.
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SinkFanout } from '../../src/outputs/sink-fanout.js';
import { StdoutSink } from '../../src/outputs/stdout-sink.js';

function epipe(): NodeJS.ErrnoException {
  return Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
}

/** A pipe whose reader leaves after `accept` lines: the next write fails with EPIPE, as a real one does. */
class ClosingPipe extends Writable {
  lines: string[] = [];
  attempts = 0;

  constructor(private readonly accept: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.attempts++;
    if (this.lines.length >= this.accept) return done(epipe());
    this.lines.push(chunk.toString());
    done();
  }
}

const doc = (n: number): Record<string, unknown> => ({ event: { kind: 'alert' }, n });

async function settle(sink: StdoutSink, expected: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { written, dropped, queued } = sink.stats();
    if (queued === 0 && written + dropped >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the sink did not settle: ${JSON.stringify(sink.stats())}`);
}

describe('StdoutSink on a stream whose reader goes away', () => {
  // Anything escaping as an uncaught exception would be the crash this guards against.
  const uncaught: unknown[] = [];
  const record = (error: unknown): void => void uncaught.push(error);
  beforeEach(() => {
    uncaught.length = 0;
    process.on('uncaughtException', record);
  });
  afterEach(() => {
    process.off('uncaughtException', record);
    expect(uncaught).toEqual([]);
  });

  it('counts the failure, does not throw, reports once, then drops and counts later documents without writing', async () => {
    const pipe = new ClosingPipe(2);
    const reports: unknown[] = [];
    const sink = new StdoutSink({ stream: pipe, onError: (_name, error) => reports.push(error), retry: { baseDelayMs: 1 } });
    await sink.start();
    for (let n = 0; n < 3; n++) sink.write(doc(n));
    await settle(sink, 3);
    expect(sink.stats()).toMatchObject({ name: 'stdout', written: 2, failures: 1, dropped: 1, queued: 0 });
    expect(sink.closed).toBe(true);
    expect(pipe.destroyed).toBe(true);

    const attempts = pipe.attempts;
    expect(() => {
      for (let n = 3; n < 10; n++) sink.write(doc(n));
    }).not.toThrow();
    expect(sink.stats()).toMatchObject({ written: 2, failures: 1, dropped: 8, queued: 0 });
    expect(pipe.attempts).toBe(attempts);
    expect(pipe.lines.map((line) => JSON.parse(line))).toEqual([doc(0), doc(1)]);

    expect(reports).toHaveLength(1);
    expect(String((reports[0] as Error).message)).toMatch(/standard output's reader is gone \(write EPIPE\).*further documents are dropped and counted/);
    expect((reports[0] as { code?: string }).code).toBe('OUTPUT_DELIVERY_REJECTED');
    await sink.close(100);
    expect(sink.stats().dropped).toBe(8);
  });

  it('does not retry a write that failed with EPIPE', async () => {
    const pipe = new ClosingPipe(0);
    const sink = new StdoutSink({ stream: pipe, retry: { retries: 5, baseDelayMs: 1 } });
    await sink.start();
    sink.write(doc(0));
    await settle(sink, 1);
    expect(pipe.attempts).toBe(1);
    expect(sink.stats()).toMatchObject({ written: 0, failures: 1, dropped: 1 });
    await sink.close(100);
  });

  it('survives an EPIPE the stream emits under someone else\'s write, and reports it at its next document', async () => {
    const pipe = new PassThrough();
    const reports: unknown[] = [];
    const sink = new StdoutSink({ stream: pipe, onError: (_name, error) => reports.push(error) });
    await sink.start();
    pipe.destroy(epipe());
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.closed).toBe(true);
    expect(reports).toHaveLength(0);
    sink.write(doc(1));
    await settle(sink, 1);
    sink.write(doc(2));
    expect(sink.stats()).toMatchObject({ written: 0, failures: 1, dropped: 2 });
    expect(reports).toHaveLength(1);
    await sink.close(100);
  });

  it('ends only itself: the other outputs keep receiving every document', async () => {
    const other = new PassThrough();
    let otherText = '';
    other.on('data', (chunk: Buffer) => (otherText += chunk.toString()));
    const reports: unknown[] = [];
    const dead = new StdoutSink({ stream: new ClosingPipe(1), retry: { baseDelayMs: 1 }, onError: (_name, error) => reports.push(error) });
    const alive = new StdoutSink({ stream: other });
    const fanout = new SinkFanout([dead, alive]);
    await fanout.start();
    for (let n = 0; n < 5; n++) fanout.write(doc(n));
    await settle(dead, 5);
    await settle(alive, 5);
    // All five were queued before the first write: the three behind the failed one are refused
    // without a write (failures, dropped), and the end is reported once.
    expect(dead.stats()).toMatchObject({ written: 1, failures: 4, dropped: 4 });
    expect(reports).toHaveLength(1);
    fanout.write(doc(5));
    expect(dead.stats()).toMatchObject({ written: 1, failures: 4, dropped: 5 });
    await settle(alive, 6);
    expect(alive.stats()).toMatchObject({ written: 6, failures: 0, dropped: 0 });
    expect(otherText.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual([0, 1, 2, 3, 4, 5].map(doc));
    await fanout.close(100);
  });

  it('retries a failure the stream survives, and delivers', async () => {
    const written: string[] = [];
    let failNext = true;
    const flaky = Object.assign(new EventEmitter(), {
      writable: true,
      write(chunk: string, callback: (error?: Error | null) => void): boolean {
        if (failNext) {
          failNext = false;
          setImmediate(() => callback(Object.assign(new Error('try again'), { code: 'EAGAIN' })));
        } else {
          written.push(chunk);
          setImmediate(() => callback());
        }
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
    const sink = new StdoutSink({ stream: flaky, retry: { baseDelayMs: 1 } });
    await sink.start();
    sink.write(doc(0));
    await settle(sink, 1);
    expect(sink.stats()).toMatchObject({ written: 1, failures: 1, dropped: 0 });
    expect(sink.closed).toBe(false);
    expect(written.map((line) => JSON.parse(line))).toEqual([doc(0)]);
    await sink.close(100);
  });
});
