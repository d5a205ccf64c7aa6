/**
 * Holds back repeats of an alert so a loop cannot flood the outputs. Two alerts are the same when
 * they come from the same rule for the same command (executable and arguments), parent
 * executable, user and host; pids and times do not count, since a loop changes them every turn.
 *
 * The first alert of a kind opens a window of `windowMs` and goes out; repeats inside the window
 * are counted and dropped. The first repeat after the window goes out carrying the count
 * (`execwarden.throttle.suppressed`), and `drain()` reports windows that closed with repeats and
 * no later alert, so no count is ever lost. Tracked kinds are capped (`maxKeys`, oldest evicted
 * into the next drain). Pure: time comes from the clock.
 *
 * Bounded in bytes, not only in count: a kind is tracked by a hash of its identity (an identity
 * holds the whole argv), and the alert kept to open a summary with is shortened to
 * `keptAlertBytes` (fit-document.ts), so 2,000 tracked kinds cost at most about 40 MiB however
 * long the command lines behind them.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { fitDocument } from '../outputs/fit-document.js';
import type { AlertDocument } from './alert-document.js';

export interface AlertThrottleOptions {
  windowMs: number;
  /** Most alert kinds tracked at once; default 2,000. */
  maxKeys?: number;
  /** Bytes of JSON the alert kept for a kind's summary may take; default 16 KiB. */
  keptAlertBytes?: number;
}

export const DEFAULT_THROTTLE_MAX_KEYS = 2_000;
export const DEFAULT_KEPT_ALERT_BYTES = 16 * 1024;

export interface ThrottleSummary {
  key: string;
  ruleId: string;
  ruleName: string;
  /** Repeats held back in the window. */
  suppressed: number;
  windowStartMs: number;
  lastSeenMs: number;
  /** The alert that opened the window. */
  first: AlertDocument;
}

export interface AlertThrottleStats {
  emitted: number;
  suppressed: number;
  tracked: number;
}

interface WindowState {
  startMs: number;
  lastSeenMs: number;
  suppressed: number;
  first: AlertDocument;
}

/** A short, fixed-size key for what makes two alerts the same (see the module header). */
export function alertIdentity(alert: AlertDocument): string {
  const process = alert.process ?? {};
  const parent = (process.parent ?? {}) as Record<string, unknown>;
  const identity = JSON.stringify([
    alert.rule.id,
    alert.host?.id ?? alert.host?.name ?? null,
    alert.user?.id ?? null,
    process.executable ?? process.name ?? null,
    process.args ?? process.command_line ?? null,
    parent.executable ?? parent.name ?? null,
  ]);
  return createHash('sha256').update(identity).digest('base64');
}

export class AlertThrottle {
  private readonly windows = new Map<string, WindowState>();
  private readonly pending: ThrottleSummary[] = [];
  private readonly maxKeys: number;
  private readonly keptAlertBytes: number;
  private emitted = 0;
  private suppressed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: AlertThrottleOptions,
  ) {
    if (!(options.windowMs >= 0)) throw new RangeError(`windowMs must be >= 0, got ${options.windowMs}`);
    this.maxKeys = options.maxKeys ?? DEFAULT_THROTTLE_MAX_KEYS;
    this.keptAlertBytes = options.keptAlertBytes ?? DEFAULT_KEPT_ALERT_BYTES;
  }

  /** The alert to write (annotated with a held-back count when there was one), or null. */
  offer(alert: AlertDocument): AlertDocument | null {
    const now = this.clock.nowMs();
    const key = alertIdentity(alert);
    const state = this.windows.get(key);
    if (state !== undefined && now - state.startMs < this.options.windowMs) {
      state.suppressed++;
      state.lastSeenMs = now;
      this.suppressed++;
      return null;
    }
    let out = alert;
    if (state !== undefined) {
      this.windows.delete(key);
      if (state.suppressed > 0) out = { ...alert, execwarden: { ...alert.execwarden, throttle: { suppressed: state.suppressed } } };
    } else if (this.windows.size >= this.maxKeys) {
      this.evictOldest();
    }
    const first = fitDocument(alert as unknown as Record<string, unknown>, this.keptAlertBytes).doc as unknown as AlertDocument;
    this.windows.set(key, { startMs: now, lastSeenMs: now, suppressed: 0, first });
    this.emitted++;
    return out;
  }

  /** Windows that have closed with held-back repeats, each reported once; forgets closed windows. */
  drain(): ThrottleSummary[] {
    const now = this.clock.nowMs();
    const out = this.pending.splice(0);
    for (const [key, state] of this.windows) {
      if (now - state.startMs < this.options.windowMs) continue;
      this.windows.delete(key);
      if (state.suppressed > 0) out.push(summary(key, state));
    }
    return out;
  }

  stats(): AlertThrottleStats {
    return { emitted: this.emitted, suppressed: this.suppressed, tracked: this.windows.size };
  }

  private evictOldest(): void {
    const oldest = this.windows.keys().next();
    if (oldest.done) return;
    const state = this.windows.get(oldest.value)!;
    this.windows.delete(oldest.value);
    if (state.suppressed > 0) this.pending.push(summary(oldest.value, state));
  }
}

function summary(key: string, state: WindowState): ThrottleSummary {
  return {
    key,
    ruleId: state.first.rule.id,
    ruleName: state.first.rule.name,
    suppressed: state.suppressed,
    windowStartMs: state.startMs,
    lastSeenMs: state.lastSeenMs,
    first: state.first,
  };
}
