/**
 * Flood control for alerts: a loop must not bury the outputs, yet a launch by a new process is a
 * new attack, and its alert goes out when it happens.
 *
 * Each rule has a budget: the first `perRuleBudget` alerts of a rule within `windowMs` (counted
 * from the first of them) go out at once, whatever they are, repeats of the same command line
 * included. Only what a rule raises beyond its budget is held back, grouped by kind (same rule,
 * command, executable and arguments, parent executable, user and host; pids and times do not
 * count, since a loop changes them every turn). When the rule's window closes, `drain()` reports
 * each held-back kind once: how many were held back, when the first and the latest came, and the
 * latest occurrence itself, so the summary names the process that is running now, not one that
 * may be long gone. A window of 0 turns flood control off.
 *
 * Bounded in bytes, not only in count: a kind is tracked by a hash of its identity (an identity
 * holds the whole argv), and the occurrences kept for its summary are shortened to
 * `keptAlertBytes` (fit-document.ts); at most `maxKeys` kinds are held, and the occurrences kept
 * hold at most `maxHeldBytes` (twice their JSON's length: V8 may keep a string at 2 bytes a
 * character); beyond either, the oldest kind is reported early to make room. A flood of distinct
 * alerts on long command lines costs 16 MiB here, not 2,000 × 2 × 16 KiB.
 * Pure: time comes from the clock.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { fitDocument } from '../outputs/fit-document.js';
import type { AlertDocument } from './alert-document.js';
import { OrderedMap } from '../insertion-order.js';

export interface AlertThrottleOptions {
  /** The span over which a rule's budget is counted; 0 turns flood control off. */
  windowMs: number;
  /** Alerts of one rule that go out at once within a window; default 20. */
  perRuleBudget?: number;
  /** Most held-back kinds tracked at once; default 2,000. */
  maxKeys?: number;
  /** Bytes of JSON each occurrence kept for a summary may take; default 16 KiB. */
  keptAlertBytes?: number;
  /** What all kept occurrences may hold together (twice their JSON's length); default 16 MiB. */
  maxHeldBytes?: number;
}

export const DEFAULT_RULE_BUDGET = 20;
export const DEFAULT_THROTTLE_MAX_KEYS = 2_000;
export const DEFAULT_KEPT_ALERT_BYTES = 16 * 1024;
export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024;

export interface ThrottleSummary {
  key: string;
  ruleId: string;
  ruleName: string;
  /** Occurrences of this kind held back in the window. */
  suppressed: number;
  /** The rule's window: when its budget started counting. */
  windowStartMs: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** The first and the latest occurrence held back (shortened to keptAlertBytes). */
  first: AlertDocument;
  latest: AlertDocument;
}

export interface AlertThrottleStats {
  emitted: number;
  suppressed: number;
  /** Held-back kinds waiting for their summary, and what their kept occurrences hold. */
  tracked: number;
  heldBytes: number;
}

interface HeldKind {
  key: string;
  firstSeenMs: number;
  lastSeenMs: number;
  suppressed: number;
  first: AlertDocument;
  latest: AlertDocument;
  /** What first and latest hold (latestBytes is 0 while latest is first). */
  firstBytes: number;
  latestBytes: number;
}

interface RuleWindow {
  startMs: number;
  sent: number;
  /** Oldest first (insertion-order.ts: a Map would scan past its deleted slots to find it). */
  held: OrderedMap<string, HeldKind>;
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
  private readonly rules = new Map<string, RuleWindow>();
  private readonly pending: ThrottleSummary[] = [];
  private readonly budget: number;
  private readonly maxKeys: number;
  private readonly keptAlertBytes: number;
  private readonly maxHeldBytes: number;
  private held = 0;
  private heldBytes = 0;
  private emitted = 0;
  private suppressed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: AlertThrottleOptions,
  ) {
    if (!(options.windowMs >= 0)) throw new RangeError(`windowMs must be >= 0, got ${options.windowMs}`);
    this.budget = options.perRuleBudget ?? DEFAULT_RULE_BUDGET;
    if (!(this.budget >= 1) || !Number.isInteger(this.budget)) throw new RangeError(`perRuleBudget must be a whole number >= 1, got ${this.budget}`);
    this.maxKeys = options.maxKeys ?? DEFAULT_THROTTLE_MAX_KEYS;
    this.keptAlertBytes = options.keptAlertBytes ?? DEFAULT_KEPT_ALERT_BYTES;
    this.maxHeldBytes = options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
  }

  /** The alert to write now, or null when it is held back for its rule's summary. */
  offer(alert: AlertDocument): AlertDocument | null {
    if (this.options.windowMs === 0) {
      this.emitted++;
      return alert;
    }
    const now = this.clock.nowMs();
    const ruleId = alert.rule.id;
    let window = this.rules.get(ruleId);
    if (window !== undefined && now - window.startMs >= this.options.windowMs) {
      this.close(ruleId, window);
      window = undefined;
    }
    if (window === undefined) {
      window = { startMs: now, sent: 0, held: new OrderedMap() };
      this.rules.set(ruleId, window);
    }
    if (window.sent < this.budget) {
      window.sent++;
      this.emitted++;
      return alert;
    }
    this.suppressed++;
    const key = alertIdentity(alert);
    const kept = this.keep(alert);
    const kind = window.held.get(key);
    if (kind !== undefined) {
      kind.suppressed++;
      kind.lastSeenMs = now;
      kind.latest = kept.doc;
      this.heldBytes += kept.bytes - kind.latestBytes;
      kind.latestBytes = kept.bytes;
    } else {
      if (this.held >= this.maxKeys) this.reportOldest();
      window.held.set(key, { key, firstSeenMs: now, lastSeenMs: now, suppressed: 1, first: kept.doc, latest: kept.doc, firstBytes: kept.bytes, latestBytes: 0 });
      this.held++;
      this.heldBytes += kept.bytes;
    }
    while (this.heldBytes > this.maxHeldBytes && this.held > 0) this.reportOldest();
    return null;
  }

  /** Summaries of the kinds held back in windows that have closed, each reported once. */
  drain(): ThrottleSummary[] {
    const now = this.clock.nowMs();
    for (const [ruleId, window] of this.rules) {
      if (now - window.startMs >= this.options.windowMs) this.close(ruleId, window);
    }
    return this.pending.splice(0);
  }

  /** Every held-back kind now, windows open or not (the agent is stopping). */
  drainAll(): ThrottleSummary[] {
    for (const [ruleId, window] of this.rules) this.close(ruleId, window);
    return this.pending.splice(0);
  }

  stats(): AlertThrottleStats {
    return { emitted: this.emitted, suppressed: this.suppressed, tracked: this.held, heldBytes: this.heldBytes };
  }

  private keep(alert: AlertDocument): { doc: AlertDocument; bytes: number } {
    const fitted = fitDocument(alert as unknown as Record<string, unknown>, this.keptAlertBytes);
    return { doc: fitted.doc as unknown as AlertDocument, bytes: 2 * fitted.json.length };
  }

  private close(ruleId: string, window: RuleWindow): void {
    this.rules.delete(ruleId);
    for (const kind of window.held.values()) {
      this.pending.push(summary(kind, window));
      this.heldBytes -= kind.firstBytes + kind.latestBytes;
    }
    this.held -= window.held.size;
  }

  /** Makes room: the kind held longest is reported now rather than at its window's end. */
  private reportOldest(): void {
    let oldest: { window: RuleWindow; kind: HeldKind } | null = null;
    for (const window of this.rules.values()) {
      const first = window.held.oldest();
      if (first !== undefined && (oldest === null || first[1].firstSeenMs < oldest.kind.firstSeenMs)) oldest = { window, kind: first[1] };
    }
    if (oldest === null) return;
    oldest.window.held.delete(oldest.kind.key);
    this.held--;
    this.heldBytes -= oldest.kind.firstBytes + oldest.kind.latestBytes;
    this.pending.push(summary(oldest.kind, oldest.window));
  }
}

function summary(kind: HeldKind, window: RuleWindow): ThrottleSummary {
  return {
    key: kind.key,
    ruleId: kind.latest.rule.id,
    ruleName: kind.latest.rule.name,
    suppressed: kind.suppressed,
    windowStartMs: window.startMs,
    firstSeenMs: kind.firstSeenMs,
    lastSeenMs: kind.lastSeenMs,
    first: kind.first,
    latest: kind.latest,
  };
}
