/**
 * Kernel timestamps are CLOCK_MONOTONIC nanoseconds; ECS wants wall-clock dates. The offset
 * between the two is measured once (and again on `recalibrate()`, e.g. after a resync, to follow
 * clock steps) from a pair of readings taken back to back: the clock's wall time and the
 * process's monotonic time (process.hrtime.bigint() is CLOCK_MONOTONIC on Linux).
 */
import type { Clock } from '../clock.js';

export type MonotonicClock = () => bigint;

export const processMonotonicNs: MonotonicClock = () => process.hrtime.bigint();

export class TimeBase {
  private offsetMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly monotonicNs: MonotonicClock = processMonotonicNs,
  ) {
    this.recalibrate();
  }

  recalibrate(): void {
    const monotonicMs = Number(this.monotonicNs() / 1000n) / 1000;
    this.offsetMs = this.clock.nowMs() - monotonicMs;
  }

  /** Wall-clock ms for a kernel timestamp; the clock's now for a missing (0) timestamp. */
  wallMs(timestampNs: bigint): number {
    if (timestampNs <= 0n) return this.clock.nowMs();
    return Number(timestampNs / 1000n) / 1000 + this.offsetMs;
  }
}

/** ISO 8601 in UTC with milliseconds, as ECS dates are written. */
export function isoDate(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}
