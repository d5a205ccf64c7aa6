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

describe('AlertThrottle', () => {
  it('lets the first alert through and holds back repeats that differ only in pid and time', () => {
    now = 1_000;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000 });
    expect(throttle.offer(reverseShellAlert(100))).not.toBeNull();
    for (let i = 1; i <= 500; i++) {
      now += 10;
      expect(throttle.offer(reverseShellAlert(100 + i))).toBeNull();
    }
    expect(throttle.stats()).toEqual({ emitted: 1, suppressed: 500, tracked: 1 });
  });

  it('treats a different command as a different alert', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000 });
    expect(throttle.offer(reverseShellAlert(1, 9))).not.toBeNull();
    expect(throttle.offer(reverseShellAlert(2, 10))).not.toBeNull();
    expect(throttle.stats().tracked).toBe(2);
  });

  it('reports the held-back count on the first alert after the window', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 1_000 });
    throttle.offer(reverseShellAlert(1));
    now = 500;
    throttle.offer(reverseShellAlert(2));
    throttle.offer(reverseShellAlert(3));
    now = 1_000;
    const next = throttle.offer(reverseShellAlert(4));
    expect(next?.execwarden?.throttle).toEqual({ suppressed: 2 });
    expect((next?.process as { pid: number }).pid).toBe(4);
    now = 2_500;
    expect(throttle.offer(reverseShellAlert(5))?.execwarden?.throttle).toBeUndefined();
  });

  it('drains windows that closed with repeats, once', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 1_000 });
    throttle.offer(reverseShellAlert(1));
    throttle.offer(reverseShellAlert(2));
    throttle.offer(reverseShellAlert(3, 10));
    now = 999;
    expect(throttle.drain()).toEqual([]);
    now = 1_000;
    const drained = throttle.drain();
    expect(drained).toHaveLength(1);
    expect(drained[0]).toMatchObject({ ruleId: '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39', suppressed: 1, windowStartMs: 0, lastSeenMs: 0 });
    expect(throttle.drain()).toEqual([]);
    expect(throttle.stats().tracked).toBe(0);
  });

  it('caps the kinds it tracks and reports the evicted ones', () => {
    now = 0;
    const throttle = new AlertThrottle(clock, { windowMs: 60_000, maxKeys: 2 });
    throttle.offer(reverseShellAlert(1, 1));
    throttle.offer(reverseShellAlert(2, 1));
    throttle.offer(reverseShellAlert(3, 2));
    throttle.offer(reverseShellAlert(4, 3));
    expect(throttle.stats().tracked).toBe(2);
    expect(throttle.drain().map((s) => s.suppressed)).toEqual([1]);
  });

  it('holds kinds in bounded bytes: a hashed identity and a shortened first alert', async () => {
    const { alertIdentity } = await import('../../src/alerts/index.js');
    now = 0;
    const pad = 'x'.repeat(120_000);
    const [match] = set.evaluate(execEvent({ name: 'setsid', pid: 9, args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/9 0>&1 #${pad}`] }));
    const big = buildAlert(match!, clock);
    expect(alertIdentity(big).length).toBeLessThan(64);
    const throttle = new AlertThrottle(clock, { windowMs: 1_000, keptAlertBytes: 8_192 });
    expect(throttle.offer(big)).toBe(big); // what goes out is whole
    throttle.offer(big);
    now = 2_000;
    const [summary] = throttle.drain();
    expect(Buffer.byteLength(JSON.stringify(summary!.first))).toBeLessThanOrEqual(8_192);
    expect(summary!.first.rule.id).toBe(big.rule.id);
  });
});
