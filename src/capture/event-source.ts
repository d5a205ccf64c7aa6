import type { CaptureStats, RawEvent } from './raw-event.js';

/**
 * Where raw process events come from: the live proc connector (live-source.ts) or a recording
 * (recorded-source.ts). Batches are delivered in kernel order per CPU.
 */
export interface EventSource {
  /** Starts delivery; resolves once the source is subscribed (live) or opened (recorded). */
  start(onBatch: (events: RawEvent[]) => void): Promise<void>;
  /** Stops delivery; resolves after the last batch has been handed over. */
  stop(): Promise<void>;
  stats(): CaptureStats;
  /** Why the source stopped delivering on its own (its reader died), or null while it is healthy. */
  failure?(): string | null;
  /** Called by the source after a loss (overflow) so the consumer can rescan /proc. */
  onLoss?: (reason: 'overflow' | 'sequence-gap' | 'batch-dropped') => void;
}
