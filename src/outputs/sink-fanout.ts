/**
 * All configured sinks behind one handle: one write reaches every sink's own queue (so a dead
 * webhook never delays the file), and start/reopen/close/stats act on all of them.
 */
import { describeError } from './errors.js';
import type { Sink, SinkStats } from './sink.js';

export interface FanoutStats {
  sinks: SinkStats[];
  queued: number;
  written: number;
  dropped: number;
  failures: number;
  /** Alerts below some output's min_severity (not a loss). */
  filtered: number;
}

export class SinkFanout {
  constructor(readonly sinks: readonly Sink[]) {}

  /**
   * Starts every sink. If any fails, the ones that started are closed again and the first
   * failure (in configuration order) is thrown: the agent does not run with outputs missing.
   */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.sinks.map((sink) => sink.start()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (!failure) return;
    await Promise.allSettled(this.sinks.map((sink, index) => (results[index].status === 'fulfilled' ? sink.close(0) : Promise.resolve())));
    throw failure.reason;
  }

  write(doc: Record<string, unknown>): void {
    for (const sink of this.sinks) sink.write(doc);
  }

  /** Reopens every sink that can (SIGHUP). Returns one message per sink that failed to reopen. */
  async reopen(): Promise<string[]> {
    const results = await Promise.allSettled(this.sinks.map((sink) => sink.reopen?.()));
    return results.flatMap((result, index) =>
      result.status === 'rejected' ? [`output ${this.sinks[index].name}: reopen failed: ${describeError(result.reason)}`] : [],
    );
  }

  /** Drains every sink in parallel (each waits at most drainMs) and closes it. */
  async close(drainMs?: number): Promise<void> {
    await Promise.allSettled(this.sinks.map((sink) => sink.close(drainMs)));
  }

  stats(): FanoutStats {
    const sinks = this.sinks.map((sink) => sink.stats());
    const total = (key: 'queued' | 'written' | 'dropped' | 'failures'): number => sinks.reduce((sum, s) => sum + s[key], 0);
    const filtered = sinks.reduce((sum, s) => sum + (s.filtered ?? 0), 0);
    return { sinks, queued: total('queued'), written: total('written'), dropped: total('dropped'), failures: total('failures'), filtered };
  }
}
