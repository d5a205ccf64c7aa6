/**
 * The one queue-and-retry engine behind every sink. A sink is a `SinkTransport` (how to open,
 * send one item, reopen and close) plus an `encode` step; QueuedSink adds the rest:
 *
 * - An alert below the output's `minSeverity` is not taken: it is counted as filtered (not as
 *   dropped: it is no loss) and nothing else happens. Documents that are not alerts (process
 *   events) are always taken (severity.ts).
 * - `write` encodes the document at once (later mutation by the caller cannot change what is
 *   sent, and a document that cannot be serialised is counted, not thrown) and queues it. A full
 *   queue (`maxQueued` documents, or `maxQueuedBytes` of encoded text, waiting or in flight)
 *   drops the document and counts it. Nothing here blocks the caller.
 * - Ordered sinks (file, stdout, syslog: one send at a time) keep their order: a failed send is
 *   retried in place after an exponential backoff (with jitter) up to `retry.retries` times; after
 *   that, or at once for a DeliveryRejectedError, the item is dropped and counted. Transports
 *   reconnect lazily inside `send`, so a retry is also a reconnect. `reopen` and `send` never
 *   overlap (they run through one chain), so a file is never written while it is being swapped.
 * - Concurrent sinks (the webhook: `concurrency` sends in flight) let a failed item wait for its
 *   retry beside the queue instead of in front of it, so one dead request does not hold the rest
 *   hostage. After `breaker.failures` failures in a row the circuit opens: nothing is sent but one
 *   probe, first after `breaker.probeMs`, then at doubling intervals up to `breaker.maxProbeMs`;
 *   the first success closes it and the queue flows at full concurrency again. So after the
 *   endpoint recovers, delivery resumes within one probe interval.
 * - Items older than `maxAgeMs` when their turn comes are dropped and counted as expired
 *   (expired ones are part of `dropped`, which the agent reports as lost).
 * - `close(drainMs)` stops accepting documents, lets the queue drain for at most drainMs, then
 *   aborts whatever is in flight, counts everything left as dropped and closes the transport,
 *   giving that too only what is left of the bound (at least CLOSE_GRACE_MS). The timer that
 *   bounds the drain keeps the process alive: with capture stopped and the retry timers unref'd,
 *   nothing else would, and Node would end the process in the middle of the drain.
 */
import { BoundedQueue } from './bounded-queue.js';
import { describeError, DeliveryRejectedError, SinkStartError } from './errors.js';
import { DEFAULT_MIN_SEVERITY, meetsMinSeverity, type MinSeverity } from './severity.js';
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

export interface BreakerPolicy {
  /** Failures in a row that open the circuit. */
  failures: number;
  /** Wait before the first probe; doubled after each failed probe, up to maxProbeMs. */
  probeMs: number;
  maxProbeMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ retries: 5, baseDelayMs: 200, maxDelayMs: 30_000 });
export const DEFAULT_BREAKER: Readonly<BreakerPolicy> = Object.freeze({ failures: 5, probeMs: 1_000, maxProbeMs: 30_000 });

export const DEFAULT_QUEUE_SIZE = 10_000;
/** Encoded text one sink may hold queued (UTF-16 code units, as V8 holds them, times two). */
export const DEFAULT_QUEUE_BYTES = 32 * 1024 * 1024;
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
  /** Bytes of encoded items the queue may hold. Default 32 MiB. */
  maxQueuedBytes?: number;
  /** The bytes an item holds (default: a string's, or the sum of an object's string fields). */
  sizeOf?: (item: T) => number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
  /** Sends in flight at once. Default 1 (ordered). More than 1 makes the sink concurrent. */
  concurrency?: number;
  /** Circuit breaker of a concurrent sink (see the module header). */
  breaker?: Partial<BreakerPolicy>;
  /** Items older than this when their turn comes are dropped as expired. Default: never. */
  maxAgeMs?: number;
  /** Alerts below this severity are counted as filtered, not sent. Default low: every alert. */
  minSeverity?: MinSeverity;
  /** Monotonic milliseconds (tests). */
  nowMs?: () => number;
}

interface Entry<T> {
  item: T;
  bytes: number;
  queuedAtMs: number;
  attempts: number;
  retryAtMs: number;
}

/** Bytes a queued item holds: strings count two bytes a code unit (V8's worst case). */
function defaultSizeOf(item: unknown): number {
  if (typeof item === 'string') return item.length * 2;
  if (item !== null && typeof item === 'object') {
    let total = 0;
    for (const value of Object.values(item)) if (typeof value === 'string') total += value.length * 2;
    return total;
  }
  return 0;
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
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private readonly sizeOf: (item: T) => number;
  private queuedBytes = 0;
  private readonly queue: BoundedQueue<Entry<T>>;
  /** Concurrent sinks: failed items waiting for their retry time. */
  private retrying: Entry<T>[] = [];
  private readonly retry: RetryPolicy;
  private readonly breaker: BreakerPolicy;
  private readonly concurrency: number;
  private readonly maxAgeMs: number;
  private readonly nowMs: () => number;
  private readonly onError: SinkErrorHandler | undefined;
  private readonly minSeverity: MinSeverity;
  private counters = { written: 0, dropped: 0, failures: 0, expired: 0, filtered: 0 };
  private started = false;
  private closing = false;
  private workers = 0;
  private inFlight = 0;
  private readonly finished = new Set<Promise<void>>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Failures in a row; the circuit is open while probeAtMs is set. */
  private failuresInRow = 0;
  private probeAtMs: number | null = null;
  private probeDelayMs = 0;
  private probing = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  /** Settles every pending wait of the drain loop when close() gives up on draining. */
  private abortController = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(options: QueuedSinkOptions<T>) {
    this.name = options.name;
    this.transport = options.transport;
    this.encode = options.encode;
    this.maxQueued = options.maxQueued ?? DEFAULT_QUEUE_SIZE;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_QUEUE_BYTES;
    this.sizeOf = options.sizeOf ?? defaultSizeOf;
    this.queue = new BoundedQueue<Entry<T>>(this.maxQueued);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.breaker = { ...DEFAULT_BREAKER, ...options.breaker };
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.maxAgeMs = options.maxAgeMs ?? Infinity;
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.onError = options.onError;
    this.minSeverity = options.minSeverity ?? DEFAULT_MIN_SEVERITY;
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
    if (!meetsMinSeverity(doc, this.minSeverity)) {
      this.counters.filtered += 1;
      return;
    }
    this.accept(doc);
  }

  /** Queues a document the output takes (see write). */
  protected accept(doc: Record<string, unknown>): void {
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
    const bytes = this.sizeOf(item);
    if (
      this.pending() >= this.maxQueued ||
      this.queuedBytes + bytes > this.maxQueuedBytes ||
      !this.queue.push({ item, bytes, queuedAtMs: this.nowMs(), attempts: 0, retryAtMs: 0 })
    ) {
      this.counters.dropped += 1;
      return;
    }
    this.queuedBytes += bytes;
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
    const deadline = this.nowMs() + drainMs;
    if (this.started && this.pending() > 0) {
      await this.waitIdle(drainMs);
    }
    this.abortController.abort();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.counters.dropped += this.queue.clear() + this.retrying.length;
    this.retrying = [];
    this.queuedBytes = 0;
    // The workers return at once after abort (counting what they held); a send still in flight
    // is torn down by the transport's close().
    await Promise.all(this.finished);
    const closed = await this.within(this.transport.close().then(() => true, () => true), Math.max(CLOSE_GRACE_MS, deadline - this.nowMs()));
    if (!closed) this.report(new Error('closing did not finish within the drain bound'));
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  stats(): SinkStats {
    return { name: this.name, queued: this.pending(), ...this.counters };
  }

  /** Documents waiting, waiting for a retry, or in flight. */
  private pending(): number {
    return this.queue.length + this.retrying.length + this.inFlight;
  }

  /** Starts workers up to the concurrency while there is work they could take. */
  private kick(): void {
    if (!this.started || this.abortController.signal.aborted) return;
    const wanted = this.probeAtMs !== null ? 1 : this.concurrency;
    while (this.workers < wanted && this.queue.length + this.retrying.length > 0) {
      this.workers += 1;
      const run: Promise<void> = this.work().finally(() => {
        this.workers -= 1;
        this.finished.delete(run);
        this.afterWork();
      });
      this.finished.add(run);
    }
  }

  /** When the last worker is done: idle, or a timer for the next retry or probe. */
  private afterWork(): void {
    if (this.workers > 0 || this.abortController.signal.aborted) return;
    if (this.pending() === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    const now = this.nowMs();
    const due = this.nextDueMs();
    if (due <= now) {
      this.kick();
      return;
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.kick();
    }, Math.ceil(due - now));
    this.wakeTimer.unref();
  }

  /** When something can next be sent (now when something can). */
  private nextDueMs(): number {
    if (this.probeAtMs !== null) return this.probeAtMs;
    if (this.queue.length > 0) return this.nowMs();
    return Math.min(...this.retrying.map((entry) => entry.retryAtMs));
  }

  /** The next entry to send now, or null when nothing may go yet. */
  private take(): Entry<T> | null {
    const now = this.nowMs();
    if (this.probeAtMs !== null) {
      if (this.probing || now < this.probeAtMs) return null;
      this.probing = true;
    }
    let due = -1;
    for (let i = 0; i < this.retrying.length; i++) {
      if (this.retrying[i]!.retryAtMs <= now && (due < 0 || this.retrying[i]!.retryAtMs < this.retrying[due]!.retryAtMs)) due = i;
    }
    const entry = due >= 0 ? this.retrying.splice(due, 1)[0]! : (this.queue.shift() ?? null);
    if (entry === null && this.probing) this.probing = false;
    return entry;
  }

  private async work(): Promise<void> {
    const signal = this.abortController.signal;
    for (;;) {
      if (signal.aborted) return;
      const entry = this.take();
      if (entry === null) return;
      if (this.nowMs() - entry.queuedAtMs > this.maxAgeMs) {
        this.counters.dropped += 1;
        this.counters.expired += 1;
        this.queuedBytes -= entry.bytes;
        this.probing = false;
        continue;
      }
      this.inFlight += 1;
      let finished = true;
      try {
        finished = await this.deliver(entry);
      } finally {
        this.inFlight -= 1;
        if (finished) this.queuedBytes -= entry.bytes;
      }
      if (signal.aborted) return;
      // A closed circuit lets the other workers in again.
      this.kick();
    }
  }

  /**
   * Sends one entry: retried in place (ordered) or set aside for its retry (concurrent). True when
   * the entry is done with (written or dropped), false when it waits for a retry.
   */
  private async deliver(entry: Entry<T>): Promise<boolean> {
    const signal = this.abortController.signal;
    for (;;) {
      try {
        const send = () => this.transport.send(entry.item);
        await this.untilAborted(this.concurrency === 1 ? this.exclusive(send) : send());
        if (signal.aborted) {
          this.counters.dropped += 1;
          return true;
        }
        this.counters.written += 1;
        this.succeeded();
        return true;
      } catch (error) {
        if (signal.aborted) {
          this.counters.dropped += 1;
          return true;
        }
        this.counters.failures += 1;
        this.report(error);
        this.failed();
        entry.attempts += 1;
        if (error instanceof DeliveryRejectedError || entry.attempts > this.retry.retries) {
          this.counters.dropped += 1;
          return true;
        }
        const delay = backoffDelayMs(this.retry, entry.attempts);
        if (this.concurrency > 1) {
          entry.retryAtMs = this.nowMs() + delay;
          this.retrying.push(entry);
          return false;
        }
        await this.sleep(delay);
        if (signal.aborted) {
          this.counters.dropped += 1;
          return true;
        }
      }
    }
  }

  private succeeded(): void {
    this.failuresInRow = 0;
    this.probeAtMs = null;
    this.probing = false;
    this.probeDelayMs = 0;
  }

  private failed(): void {
    this.failuresInRow += 1;
    if (this.concurrency === 1) return;
    const wasProbe = this.probing;
    this.probing = false;
    if (this.probeAtMs === null && this.failuresInRow < this.breaker.failures) return;
    // Open, or stay open after a failed probe, with a longer wait.
    this.probeDelayMs = wasProbe || this.probeDelayMs > 0 ? Math.min(this.breaker.maxProbeMs, Math.max(this.breaker.probeMs, this.probeDelayMs * 2)) : this.breaker.probeMs;
    this.probeAtMs = this.nowMs() + this.probeDelayMs;
  }

  private exclusive<R>(task: () => Promise<R>): Promise<R> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves with `promise`, or as soon as close() aborts (the transport then tears it down). */
  private untilAborted<R>(promise: Promise<R>): Promise<R | undefined> {
    const signal = this.abortController.signal;
    if (signal.aborted) {
      promise.catch(() => undefined);
      return Promise.resolve(undefined);
    }
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
