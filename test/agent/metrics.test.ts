import { describe, expect, it } from 'vitest';
import { renderMetrics, startMetricsServer } from '../../src/agent/metrics.js';
import { LossMonitor, LOSS_RULE_NAME } from '../../src/agent/internal-alerts.js';
import { SteppedClock } from '../process/raw-events.js';

describe('metrics', () => {
  it('renders the Prometheus text format with escaped labels', () => {
    const text = renderMetrics([
      { name: 'execwarden_x_total', help: 'An example.\nSecond line.', type: 'counter', samples: [{ labels: { rule_name: 'a "b"\\c\nd' }, value: 3 }] },
      { name: 'execwarden_g', help: 'Gauge.', type: 'gauge', samples: [{ value: Infinity }, { labels: { q: '1' }, value: NaN }] },
    ]);
    expect(text).toBe(
      '# HELP execwarden_x_total An example.\\nSecond line.\n# TYPE execwarden_x_total counter\nexecwarden_x_total{rule_name="a \\"b\\"\\\\c\\nd"} 3\n' +
        '# HELP execwarden_g Gauge.\n# TYPE execwarden_g gauge\nexecwarden_g +Inf\nexecwarden_g{q="1"} NaN\n',
    );
  });

  it('serves /metrics and /healthz on loopback and refuses other paths and methods', async () => {
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 } as never, () => [
      { name: 'execwarden_up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] },
    ]);
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('version=0.0.4');
      expect(await metrics.text()).toContain('execwarden_up 1');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/other`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('fails clearly when the address is taken', async () => {
    const first = await startMetricsServer({ host: '127.0.0.1', port: 0 }, () => []);
    try {
      await expect(startMetricsServer({ host: '127.0.0.1', port: first.address.port }, () => [])).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ for metrics: EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('loss alert', () => {
  const host = { name: 'h', hostname: 'h', id: 'id', architecture: 'x86_64', os: { type: 'linux', kernel: '6', name: 'L', version: '1', platform: 'l', family: 'l', full: 'L 1' } } as const;
  const zero = { overflows: 0, sequenceGaps: 0, eventsDropped: 0, staleSnapshots: 0, outputDrops: 0, sequenceEvictions: 0 };

  it('alerts once per window and carries every loss into the next alert', () => {
    const clock = new SteppedClock();
    const monitor = new LossMonitor(clock, host, 60_000);
    expect(monitor.check(zero)).toBeNull();
    const first = monitor.check({ ...zero, overflows: 2 })!;
    expect((first.rule as { name: string }).name).toBe(LOSS_RULE_NAME);
    expect((first.event as { kind: string }).kind).toBe('alert');
    expect(first.message).toContain('2 kernel buffer overflows');
    expect(monitor.check({ ...zero, overflows: 3, eventsDropped: 10 })).toBeNull();
    clock.advance(60_000);
    const second = monitor.check({ ...zero, overflows: 3, eventsDropped: 10, outputDrops: 1 })!;
    expect((second.execwarden as { loss: Record<string, number> }).loss).toEqual({ overflows: 1, sequence_gaps: 0, events_dropped: 10, stale_snapshots: 0, output_drops: 1, sequence_evictions: 0 });
    clock.advance(60_000);
    expect(monitor.check({ ...zero, overflows: 3, eventsDropped: 10, outputDrops: 1 })).toBeNull();
    const stale = monitor.check({ ...zero, overflows: 3, eventsDropped: 10, outputDrops: 1, staleSnapshots: 1 })!;
    expect(stale.message).toContain("1 exec read only after the process had exec'd again");
    clock.advance(60_000);
    const evicted = monitor.check({ ...zero, overflows: 3, eventsDropped: 10, outputDrops: 1, staleSnapshots: 1, sequenceEvictions: 4 })!;
    expect(evicted.message).toContain('4 partial sequences evicted by the open-sequence cap');
  });
});
