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

/** "YYYY-MM-DDTHH:MM:SS." of recent seconds: a document has several dates, mostly in a few seconds. */
const secondPrefixes = new Map<number, string>();
const MAX_FOUR_DIGIT_YEAR_SECOND = 253_402_300_799; // 9999-12-31T23:59:59Z

/** ISO 8601 in UTC with milliseconds, as ECS dates are written (what Date#toISOString gives). */
export function isoDate(ms: number): string {
  const t = Math.floor(ms);
  const second = Math.floor(t / 1000);
  if (!(second >= 0 && second <= MAX_FOUR_DIGIT_YEAR_SECOND)) return new Date(t).toISOString();
  let prefix = secondPrefixes.get(second);
  if (prefix === undefined) {
    prefix = new Date(second * 1000).toISOString().slice(0, 20);
    if (secondPrefixes.size >= 256) secondPrefixes.clear();
    secondPrefixes.set(second, prefix);
  }
  const milli = t - second * 1000;
  return `${prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
