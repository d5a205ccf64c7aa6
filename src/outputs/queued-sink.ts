/**
 * The one queue-and-retry engine behind every sink. A sink is a `SinkTransport` (how to open,
 * send one item, reopen and close) plus an `encode` step; QueuedSink adds the rest:
 *
 * - `write` encodes the document at once (later mutation by the caller cannot change what is
 *   sent, and a document that cannot be serialised is counted, not thrown) and pushes it onto a
 *   BoundedQueue. A full queue drops the document and counts it. Nothing here blocks the caller.
 * - One drain loop per sink sends items in order, one at a time. A failed send is counted, then
 *   retried after an exponential backoff (with jitter) up to `retry.retries` times; after that, or
 *   at once for a DeliveryRejectedError, the item is dropped and counted. Transports reconnect
 *   lazily inside `send`, so a retry is also a reconnect.
 * - `reopen` and `send` never overlap (they run through one chain), so a file is never written
 *   while it is being swapped.
 * - `close(drainMs)` stops accepting documents, lets the loop drain for at most drainMs, then
 *   aborts whatever is in flight, counts what is left as dropped and closes the transport, giving
 *   that too only what is left of the bound (at least CLOSE_GRACE_MS). The timer that bounds the
 *   drain keeps the process alive: with capture stopped and the loop's retry timers unref'd,
 *   nothing else would, and Node would end the process in the middle of the drain.
 */
import { BoundedQueue } from './bounded-queue.js';
import { describeError, DeliveryRejectedError, SinkStartError } from './errors.js';
import type { Sink, SinkStats } from './sink.js';

export interface SinkTransport<T> {
  /** Called once by start(); throwing makes start() reject with a SinkStartError. */
  open(): Promise<void>;
  /** Delivers one item. Throw to have it retried; throw DeliveryRejectedError to drop it. */
  send(item: T): Promise<void>;
  /** Reopens files / reconnects sockets (SIGHUP). */
  reopen?(): Promise<void>;
  /** Releases everything and makes an in-flight send settle promptly. */
  close(): Promise<void>;
}

export interface RetryPolicy {
  /** Further attempts after the first failure of one item. */
  retries: number;
  /** Delay before the first retry; doubled each time. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ retries: 5, baseDelayMs: 200, maxDelayMs: 30_000 });

export const DEFAULT_QUEUE_SIZE = 10_000;
export const DEFAULT_DRAIN_MS = 5_000;
/** What a transport's close gets at least, even when the drain used up the bound. */
export const CLOSE_GRACE_MS = 250;

/** Called on every failed delivery, so the agent can log it (throttled on its side). */
export type SinkErrorHandler = (sink: string, error: unknown) => void;

export interface QueuedSinkOptions<T> {
  name: string;
  transport: SinkTransport<T>;
  /** Turns a document into what the transport sends. May throw (the document is then dropped). */
  encode(doc: Record<string, unknown>): T;
  maxQueued?: number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
}

/** Exponential backoff for the given 1-based retry, with up to 20% random jitter, capped. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped * (1 + 0.2 * random()));
}

export class QueuedSink<T> implements Sink {
  readonly name: string;
  private readonly transport: SinkTransport<T>;
  private readonly encode: (doc: Record<string, unknown>) => T;
  private readonly queue: BoundedQueue<T>;
  private readonly retry: RetryPolicy;
  private readonly onError: SinkErrorHandler | undefined;
  private counters = { written: 0, dropped: 0, failures: 0 };
  private started = false;
  private closing = false;
  private draining: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** Settles every pending wait of the drain loop when close() gives up on draining. */
  private abortController = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(options: QueuedSinkOptions<T>) {
    this.name = options.name;
    this.transport = options.transport;
    this.encode = options.encode;
    this.queue = new BoundedQueue<T>(options.maxQueued ?? DEFAULT_QUEUE_SIZE);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.onError = options.onError;
  }

  async start(): Promise<void> {
    try {
      await this.transport.open();
    } catch (error) {
      if (error instanceof SinkStartError) throw error;
      throw new SinkStartError(this.name, describeError(error), { cause: error });
    }
    this.started = true;
    this.kick();
  }

  write(doc: Record<string, unknown>): void {
    if (this.closing) {
      this.counters.dropped += 1;
      return;
    }
    let item: T;
    try {
      item = this.encode(doc);
    } catch (error) {
      this.counters.dropped += 1;
      this.counters.failures += 1;
      this.report(error);
      return;
    }
    if (!this.queue.push(item)) {
      this.counters.dropped += 1;
      return;
    }
    this.kick();
  }

  async reopen(): Promise<void> {
    const reopen = this.transport.reopen?.bind(this.transport);
    if (!reopen || this.closing) return;
    await this.exclusive(reopen);
  }

  async close(drainMs: number = DEFAULT_DRAIN_MS): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const deadline = performance.now() + drainMs;
    if (this.started && this.queue.length > 0) {
      await this.waitIdle(drainMs);
    }
    this.abortController.abort();
    this.counters.dropped += this.queue.clear();
    // The loop returns at once after abort; a send still in flight is torn down by close().
    await this.draining;
    const closed = await this.within(this.transport.close().then(() => true, () => true), Math.max(CLOSE_GRACE_MS, deadline - performance.now()));
    if (!closed) this.report(new Error(`closing did not finish within the drain bound`));
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  stats(): SinkStats {
    return { name: this.name, queued: this.queue.length, ...this.counters };
  }

  /**
   * For transports that hand items on asynchronously (the logger child): an item already counted
   * as written is now known to be lost.
   */
  protected noteLostAfterHandOff(error: unknown): void {
    this.counters.failures += 1;
    this.counters.dropped += 1;
    this.report(error);
  }

  /** Starts the drain loop unless it is running (or the sink is not started yet). */
  private kick(): void {
    if (!this.started || this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0 && !this.abortController.signal.aborted) this.kick();
      else for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  private async drain(): Promise<void> {
    const signal = this.abortController.signal;
    let attempt = 0;
    while (this.queue.length > 0 && !signal.aborted) {
      const item = this.queue.peek() as T;
      try {
        await this.untilAborted(this.exclusive(() => this.transport.send(item)));
        if (signal.aborted) return;
        this.queue.shift();
        this.counters.written += 1;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) return;
        this.counters.failures += 1;
        this.report(error);
        if (error instanceof DeliveryRejectedError || attempt >= this.retry.retries) {
          this.queue.shift();
          this.counters.dropped += 1;
          attempt = 0;
          continue;
        }
        attempt += 1;
        await this.sleep(backoffDelayMs(this.retry, attempt));
      }
    }
  }

  private exclusive<R>(task: () => Promise<R>): Promise<R> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves with `promise`, or as soon as close() aborts (the transport then tears it down). */
  private untilAborted<R>(promise: Promise<R>): Promise<R | undefined> {
    const signal = this.abortController.signal;
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise<R | undefined>((resolve, reject) => {
      const onAbort = (): void => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return this.untilAborted(new Promise<void>((resolve) => setTimeout(resolve, ms).unref())).then(() => undefined);
  }

  /** Resolves true with `promise`, false after `ms` (a referenced timer: see the module header). */
  private within(promise: Promise<boolean>, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void promise.then((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      // Referenced on purpose (see the module header).
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private report(error: unknown): void {
    try {
      this.onError?.(this.name, error);
    } catch {
      // A broken error handler must not break delivery.
    }
  }
}
