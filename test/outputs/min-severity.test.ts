/**
 * `[outputs.<name>] min_severity`: each output takes alerts of at least its severity, the agent's
 * own alerts included; process events are not alerts and always pass; what an output leaves out
 * is counted as filtered, apart from what it drops.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTURE_STOPPED_RULE_ID, CAPTURE_STOPPED_RULE_NAME, internalAlert, stallAlert } from '../../src/agent/internal-alerts.js';
import type { HostInfo } from '../../src/ecs/index.js';
import { parseOutputsConfig } from '../../src/outputs/config.js';
import { createSinks } from '../../src/outputs/create-sinks.js';
import { QueuedSink } from '../../src/outputs/queued-sink.js';
import { meetsMinSeverity, MIN_SEVERITIES, type MinSeverity } from '../../src/outputs/severity.js';
import { SinkFanout } from '../../src/outputs/sink-fanout.js';
import { TextSink } from '../support/helpers.js';
import { FakeTransport } from './fake-transport.js';

const HOST = { name: 'h', hostname: 'h', id: 'i' } as HostInfo;

/** A rule alert as alert-document.ts writes it: the rule's severity as Elastic's score. */
function ruleAlert(score: number, name = `score ${score}`): Record<string, unknown> {
  return { message: name, event: { kind: 'alert', severity: score, risk_score: score }, rule: { name } };
}

const LOW = ruleAlert(21, 'low');
const MEDIUM = ruleAlert(47, 'medium');
const HIGH = ruleAlert(73, 'high');
const CRITICAL = ruleAlert(99, 'critical');
const EVENT = { message: 'exec', event: { kind: 'event', category: ['process'], action: 'exec' } };
const STALL = stallAlert(2500, 0, HOST);
const CAPTURE_STOPPED = internalAlert(
  { ruleId: CAPTURE_STOPPED_RULE_ID, ruleName: CAPTURE_STOPPED_RULE_NAME, description: 'd', severity: 'critical', message: 'capture stopped' },
  0,
  HOST,
);

describe('meetsMinSeverity', () => {
  const documents = { LOW, MEDIUM, HIGH, CRITICAL, EVENT, STALL, CAPTURE_STOPPED };
  it.each<[MinSeverity, string[]]>([
    ['low', ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'EVENT', 'STALL', 'CAPTURE_STOPPED']],
    ['medium', ['MEDIUM', 'HIGH', 'CRITICAL', 'EVENT', 'STALL', 'CAPTURE_STOPPED']],
    ['high', ['HIGH', 'CRITICAL', 'EVENT', 'STALL', 'CAPTURE_STOPPED']],
    ['critical', ['CRITICAL', 'EVENT', 'CAPTURE_STOPPED']],
  ])('at %s takes %j', (minimum, expected) => {
    expect(Object.entries(documents).filter(([, doc]) => meetsMinSeverity(doc, minimum)).map(([name]) => name)).toEqual(expected);
  });

  it('reads named severities and the risk score too, and low takes any alert', () => {
    expect(meetsMinSeverity({ event: { kind: 'alert', severity: 'High' } }, 'high')).toBe(true);
    expect(meetsMinSeverity({ event: { kind: 'alert', risk_score: 50 } }, 'high')).toBe(false);
    expect(meetsMinSeverity({ event: { kind: 'alert', severity: 'informational' } }, 'low')).toBe(true);
    expect(meetsMinSeverity({ event: { kind: 'alert', severity: 'informational' } }, 'medium')).toBe(false);
    expect(MIN_SEVERITIES).toEqual(['low', 'medium', 'high', 'critical']);
  });
});

describe('an output with min_severity', () => {
  it('sends alerts of at least its severity and every event, and counts the rest as filtered', async () => {
    const transport = new FakeTransport();
    const sink = new QueuedSink<string>({ name: 'fake', transport, encode: (doc) => String(doc.message), minSeverity: 'high' });
    await sink.start();
    for (const doc of [LOW, MEDIUM, HIGH, EVENT, STALL, CRITICAL, CAPTURE_STOPPED]) sink.write(doc);
    await sink.close();
    expect(transport.sent).toEqual(['high', 'exec', STALL.message, 'critical', 'capture stopped']);
    expect(sink.stats()).toMatchObject({ written: 5, filtered: 2, dropped: 0 });
  });

  const dir = mkdtempSync(join(tmpdir(), 'execwarden-min-severity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is applied per output, from the config, and the fan-out adds the counts up apart from drops', async () => {
    const path = join(dir, 'alerts.ndjson');
    const config = parseOutputsConfig({ stdout: { min_severity: 'critical' }, file: { path, min_severity: 'medium' } });
    const stdout = new TextSink();
    const fanout = new SinkFanout(await createSinks(config, { stdout }));
    await fanout.start();
    for (const doc of [LOW, MEDIUM, HIGH, CRITICAL, EVENT]) fanout.write(doc);
    await fanout.close(5000);
    expect(stdout.lines().map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(['critical', 'exec']);
    const written = readFileSync(path, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { message: string }).message);
    expect(written).toEqual(['medium', 'high', 'critical', 'exec']);
    const stats = fanout.stats();
    expect(stats.sinks.map((s) => [s.name, s.written, s.filtered])).toEqual([['stdout', 2, 3], ['file', 4, 1]]);
    expect(stats).toMatchObject({ filtered: 4, dropped: 0 });
  });
});
