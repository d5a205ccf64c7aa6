import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/outputs/bounded-queue.js';
import { DeliveryRejectedError, SinkStartError } from '../../src/outputs/errors.js';
import { backoffDelayMs, QueuedSink } from '../../src/outputs/queued-sink.js';
import { FakeTransport } from './fake-transport.js';

const FAST = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };

function sinkOver(transport: FakeTransport, maxQueued = 100, retry = FAST): QueuedSink<string> {
  return new QueuedSink<string>({ name: 'fake', transport, encode: (doc) => JSON.stringify(doc), maxQueued, retry });
}

describe('BoundedQueue', () => {
  it('keeps FIFO order across wrap-around and refuses when full', () => {
    const queue = new BoundedQueue<number>(3);
    expect([queue.push(1), queue.push(2), queue.push(3), queue.push(4)]).toEqual([true, true, true, false]);
    expect(queue.shift()).toBe(1);
    expect(queue.push(5)).toBe(true);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([2, 3, 5, undefined]);
    expect(queue.length).toBe(0);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base, adds at most 20% jitter and stops at the cap', () => {
    const policy = { retries: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(policy, attempt, () => 0))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffDelayMs(policy, 2, () => 1)).toBe(240);
  });
});

describe('QueuedSink', () => {
  it('delivers in order and counts what it wrote', async () => {
    const transport = new FakeTransport();
    const sink = sinkOver(transport);
    await sink.start();
    for (let i = 0; i < 5; i += 1) sink.write({ i });
    await sink.close();
    expect(transport.sent).toEqual(['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}', '{"i":4}']);
    expect(sink.stats()).toEqual({ name: 'fake', queued: 0, written: 5, dropped: 0, failures: 0, expired: 0, filtered: 0 });
    expect(transport.closed).toBe(1);
  });

  it('drops and counts when the queue is full, without blocking the writer', async () => {
    const transport = new FakeTransport();
    transport.hold();
    const sink = sinkOver(transport, 3);
    await sink.start();
    for (let i = 0; i < 10; i += 1) sink.write({ i });
    // One item is in flight (still queued until sent), so the queue holds 3 and 7 were dropped.
    expect(sink.stats()).toMatchObject({ queued: 3, dropped: 7, written: 0 });
    transport.release();
    await sink.close();
    expect(transport.sent).toEqual(['{"i":0}', '{"i":1}', '{"i":2}']);
    expect(sink.stats()).toMatchObject({ queued: 0, dropped: 7, written: 3 });
  });

  it('retries a failing send, then drops it after the last retry', async () => {
    const transport = new FakeTransport();
    transport.failures = [new Error('a'), new Error('b'), new Error('c'), new Error('d'), new Error('e')];
    const errors: string[] = [];
    const sink = new QueuedSink<string>({ name: 'fake', transport, encode: (d) => JSON.stringify(d), retry: FAST, onError: (_n, e) => errors.push((e as Error).message) });
    await sink.start();
    sink.write({ first: true });
    sink.write({ second: true });
    await sink.close();
    // first: 4 attempts (1 + 3 retries) all failed -> dropped; second: fails once ('e'), then sent.
    expect(transport.sent).toEqual(['{"second":true}']);
    expect(sink.stats()).toMatchObject({ written: 1, dropped: 1, failures: 5 });
    expect(errors).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('drops a rejected document at once', async () => {
    const transport = new FakeTransport();
    transport.failures = [new DeliveryRejectedError('no')];
    const sink = sinkOver(transport);
    await sink.start();
    sink.write({ a: 1 });
    sink.write({ b: 2 });
    await sink.close();
    expect(transport.sent).toEqual(['{"b":2}']);
    expect(sink.stats()).toMatchObject({ written: 1, dropped: 1, failures: 1 });
  });

  it('counts an unserialisable document instead of throwing from write()', async () => {
    const transport = new FakeTransport();
    const sink = sinkOver(transport);
    await sink.start();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => sink.write(cyclic)).not.toThrow();
    await sink.close();
    expect(sink.stats()).toMatchObject({ written: 0, dropped: 1, failures: 1 });
  });

  it('wraps a start-up failure in a coded SinkStartError', async () => {
    const transport = new FakeTransport();
    transport.failOpen = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const error = await sinkOver(transport).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkStartError);
    expect(error).toMatchObject({ code: 'OUTPUT_START_FAILED', sink: 'fake' });
    expect((error as Error).message).toBe('output fake: EACCES: permission denied');
  });

  it('close() gives up on a stuck transport after drainMs and counts the rest as dropped', async () => {
    const transport = new FakeTransport();
    transport.hold();
    const sink = sinkOver(transport);
    await sink.start();
    sink.write({ a: 1 });
    sink.write({ b: 2 });
    await sink.close(20);
    sink.write({ c: 3 });
    expect(sink.stats()).toMatchObject({ queued: 0, written: 0, dropped: 3 });
  });

  it('reopen() runs between sends', async () => {
    const transport = new FakeTransport();
    const sink = sinkOver(transport);
    await sink.start();
    sink.write({ a: 1 });
    await sink.reopen();
    sink.write({ b: 2 });
    await sink.close();
    expect(transport.reopened).toBe(1);
    expect(transport.sent).toHaveLength(2);
  });
});

describe('QueuedSink memory', () => {
  it('bounds the queue in bytes as well as in documents, and frees them as items leave', async () => {
    const transport = new FakeTransport();
    transport.hold();
    const sink = new QueuedSink<string>({ name: 'fake', transport, encode: (doc) => JSON.stringify(doc), maxQueued: 100, maxQueuedBytes: 4_000, retry: FAST });
    await sink.start();
    const doc = { text: 'x'.repeat(900) }; // about 1,800 bytes encoded
    sink.write(doc);
    sink.write(doc);
    sink.write(doc); // over 4,000 bytes: dropped
    expect(sink.stats()).toMatchObject({ queued: 2, dropped: 1 });
    transport.release();
    await sink.close(1_000);
    expect(transport.sent).toHaveLength(2);
    // Once written, their bytes are free again.
    const again = new QueuedSink<string>({ name: 'fake', transport: new FakeTransport(), encode: (d) => JSON.stringify(d), maxQueuedBytes: 4_000, retry: FAST });
    await again.start();
    for (let i = 0; i < 10; i++) {
      again.write(doc);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await again.close(1_000);
    expect(again.stats()).toMatchObject({ written: 10, dropped: 0 });
  });
});
