/**
 * One interface for every place alerts (and, optionally, events) go. `write` never blocks and
 * never throws: each sink owns a bounded queue and counts what it had to drop, so a slow or dead
 * sink cannot stall capture or the other sinks.
 */
export interface SinkStats {
  name: string;
  /** Documents waiting in the queue now. */
  queued: number;
  written: number;
  /** Dropped because the queue was full or the sink gave up after retries. */
  dropped: number;
  /** Write attempts that failed (a retried document may count more than once). */
  failures: number;
  /** Of the dropped: too old when their turn came (sinks with a maximum age). */
  expired?: number;
  /**
   * Alerts not taken because they are below the output's `min_severity`: left out on purpose,
   * so counted apart from `dropped` (which is loss).
   */
  filtered?: number;
}

export interface Sink {
  readonly name: string;
  /** Opens the sink; rejects with a coded error when it cannot work at all (start-up failure). */
  start(): Promise<void>;
  /** Enqueues one document (an alert or an event), or counts it as filtered. Never blocks, never throws. */
  write(doc: Record<string, unknown>): void;
  /** Reopens files / reconnects (SIGHUP). Optional. */
  reopen?(): Promise<void>;
  /** Flushes what is queued (waiting at most drainMs) and closes. */
  close(drainMs?: number): Promise<void>;
  stats(): SinkStats;
}
