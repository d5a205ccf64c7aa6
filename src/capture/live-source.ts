/**
 * The live EventSource: the native ProcMonitor behind the EventSource interface. Losses reported
 * by the reader (kernel overflow, per-CPU sequence gap, batch dropped because JS fell behind) are
 * passed on through `onLoss` after the batch that follows them, so the consumer can rescan /proc.
 */
import { ExecwardenError } from '../errors.js';
import type { EventSource } from './event-source.js';
import {
  LOSS_BATCH_DROPPED,
  LOSS_OVERFLOW,
  LOSS_SEQUENCE_GAP,
  loadNativeAddon,
  type NativeProcMonitor,
  type NativeStartInfo,
} from './native.js';
import { decodeEvents } from './packed.js';
import { emptyCaptureStats, type CaptureOptions, type CaptureStats, type RawEvent } from './raw-event.js';

export { checkCapturePrivileges } from './privileges.js';

/** Subscribing failed; `code` is the addon's: EPERM, ESUBSCRIBE_TIMEOUT, ENETNS, ECONNECTOR, ESYSTEM, ENOMEM or ENATIVE. */
export class CaptureStartError extends ExecwardenError {}



export class LiveSource implements EventSource {
  onLoss?: (reason: 'overflow' | 'sequence-gap' | 'batch-dropped') => void;

  private monitor: NativeProcMonitor | undefined;
  private running = false;
  private stopped: Promise<void> | undefined;
  private info: NativeStartInfo | undefined;
  private jsCapabilitiesDropped = false;
  private dropError: string | null = null;

  constructor(private readonly options: CaptureOptions = {}) {}

  async start(onBatch: (events: RawEvent[]) => void): Promise<void> {
    if (this.running) throw new ExecwardenError('CAPTURE_RUNNING', 'the live source is already started');
    const addon = loadNativeAddon();
    const monitor = new addon.ProcMonitor(this.options);
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((resolve) => {
      resolveStopped = resolve;
    });
    try {
      this.info = monitor.start(
        (events, snapshots, values, losses) => {
          onBatch(decodeEvents(events, snapshots, values));
          if (losses !== 0) this.reportLosses(losses);
        },
        () => resolveStopped(),
      );
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      throw new CaptureStartError(code ?? 'ECONNECTOR', message, { cause: error });
    }
    this.monitor = monitor;
    this.stopped = stopped;
    this.running = true;
    // The reader thread drops them as it starts; this thread once capture runs (see CaptureOptions).
    if (this.options.dropCapabilities && this.options.dropCapabilities.length > 0) {
      try {
        addon.dropCapabilities(this.options.dropCapabilities);
        this.jsCapabilitiesDropped = true;
      } catch (error) {
        this.dropError = (error as Error).message;
      }
    }
  }

  /**
   * Whether the capabilities asked for in `dropCapabilities` are gone from the reader thread and
   * from this thread (with the reason when not). Other runtime threads keep theirs: Linux
   * capabilities are per thread.
   */
  capabilitiesDropped(): { reader: boolean; js: boolean; error: string | null } {
    return { reader: this.monitor?.stats().readerCapabilitiesDropped === true, js: this.jsCapabilitiesDropped, error: this.dropError };
  }

  async stop(): Promise<void> {
    const monitor = this.monitor;
    if (!monitor || !this.running) return;
    this.running = false;
    monitor.stop();
    await this.stopped;
  }

  /** Counters of the current (or last) run. */
  stats(): CaptureStats {
    if (!this.monitor) return emptyCaptureStats();
    const { readerError: _readerError, snapshotsTaken: _taken, snapshotUrgentNs: _urgent, snapshotRestNs: _rest, readerCapabilitiesDropped: _dropped, ...stats } = this.monitor.stats();
    return stats;
  }

  /** Exec snapshots taken and the time the reader spent on their urgent and second halves. */
  snapshotTiming(): { taken: number; urgentNs: number; restNs: number } {
    if (!this.monitor) return { taken: 0, urgentNs: 0, restNs: 0 };
    const stats = this.monitor.stats();
    return { taken: stats.snapshotsTaken, urgentNs: stats.snapshotUrgentNs, restNs: stats.snapshotRestNs };
  }

  /** The reader thread's fatal error, if it died: capture has stopped and will not resume. */
  failure(): string | null {
    return this.monitor?.stats().readerError ?? null;
  }

  /** What start() obtained from the kernel and scheduler, once started. */
  startInfo(): NativeStartInfo | undefined {
    return this.info;
  }

  /** Human-readable limits of this capture (buffer not forced, no SCHED_FIFO). */
  warnings(): string[] {
    const info = this.info;
    if (!info) return [];
    const warnings: string[] = [];
    if (!info.forcedBuffer) {
      warnings.push(
        `SO_RCVBUFFORCE refused: receive buffer is ${info.receiveBufferBytes} bytes (net.core.rmem_max); grant CAP_NET_ADMIN`,
      );
    }
    if (this.options.realtime !== false && !info.realtime) {
      warnings.push(
        `SCHED_FIFO refused (${info.realtimeError ?? 'unknown'}): argv of very short-lived processes may be missed; grant CAP_SYS_NICE`,
      );
    }
    return warnings;
  }

  private reportLosses(losses: number): void {
    const onLoss = this.onLoss;
    if (!onLoss) return;
    if (losses & LOSS_OVERFLOW) onLoss('overflow');
    if (losses & LOSS_SEQUENCE_GAP) onLoss('sequence-gap');
    if (losses & LOSS_BATCH_DROPPED) onLoss('batch-dropped');
  }
}
