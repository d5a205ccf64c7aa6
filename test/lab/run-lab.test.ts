/**
 * The self-test runner with a fake detector and fake simulations: correlation by marker,
 * expectations, the storm phase, latency, and the exit decision. The real simulations are
 * tested in simulation.test.ts, the real pipeline in lab-live.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type LabDetector, type LabOptions, runLab } from '../../src/lab/run-lab.js';
import { formatLabTable } from '../../src/lab/report-table.js';
import type { SimulationResult } from '../../src/lab/simulation.js';
import { LAUNCH_FORMS, SHELL_CLASSES } from '../../src/lab/reverse-shell-classes.js';
import { DEV_TCP_RULE_ID, INTERPRETER_SOCKET_RULE_ID, LAB_VARIANTS, SEED_RULE_ID, SOCKET_STDIO_RULE_ID, type LabVariant } from '../../src/lab/variants.js';

type Emit = (alert: Record<string, unknown>, observedAtMs: number) => void;

class FakeDetector implements LabDetector {
  started = 0;
  stopped = 0;
  private listener: Emit = () => {};
  async start(): Promise<void> {
    this.started += 1;
  }
  async stop(): Promise<void> {
    this.stopped += 1;
  }
  onAlert(listener: Emit): void {
    this.listener = listener;
  }
  emit(alert: Record<string, unknown>, observedAtMs: number): void {
    this.listener(alert, observedAtMs);
  }
}

function seedAlert(marker: string, eventTime: number, ruleId = SEED_RULE_ID): Record<string, unknown> {
  return {
    '@timestamp': new Date(eventTime + 50).toISOString(),
    rule: { id: ruleId, name: 'Potential Reverse Shell via Background Process' },
    process: { name: 'setsid', args: ['setsid', 'bash', '-c', `bash -i >& /dev/tcp/127.0.0.1/1 0>&1 #${marker}`] },
    event: { kind: 'alert', end: new Date(eventTime).toISOString() },
  };
}

/**
 * Fake simulations: every variant "runs"; `alertsFor` decides which alerts the fake detector
 * reports for it, by default the truth (one per rule that must fire).
 */
function scenario(detector: FakeDetector, alertsFor?: (v: LabVariant, marker: string) => Array<Record<string, unknown>>) {
  const launches: string[][] = [];
  const simulate = async (variants: LabVariant[]): Promise<SimulationResult[]> => {
    launches.push(variants.map((v) => v.name));
    return variants.map((v, i) => {
      const marker = `m-${launches.length}-${i}-${v.name}`;
      const launchedAtMs = 1_000_000 + i * 1000;
      const alerts = alertsFor ? alertsFor(v, marker) : v.mustFire.map((rule) => seedAlert(marker, launchedAtMs + 2, rule));
      for (const alert of alerts) detector.emit(alert, launchedAtMs + 9);
      return { variant: v.name, status: 'ran', marker, port: 1, launchedAtMs, connections: v.connects ? 1 : 0, exitCode: 0, leftovers: 0 };
    });
  };
  return { simulate, launches };
}

const fast = { alertWaitMs: 200, settleMs: 0 } satisfies Partial<LabOptions>;
const names = ['bash-setsid', 'bash-nohup', 'benign-no-dev-tcp', 'look-alike-node-parent'];

describe('runLab', () => {
  it('passes when each variant gets exactly the alerts it expects, and reports rule and latency', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector);
    const report = await runLab({ detector, storm: false, variants: names, simulate, ...fast });
    expect(report.passed).toBe(true);
    expect(report.counts).toEqual({ pass: 4, fail: 0, skipped: 0 });
    const setsid = report.rows.find((r) => r.variant === 'bash-setsid')!;
    expect(setsid).toMatchObject({ expected: true, observed: true, rule: SEED_RULE_ID, latencyMs: 7, latencyFrom: 'event', status: 'pass' });
    expect(report.rows.find((r) => r.variant === 'benign-no-dev-tcp')).toMatchObject({ expected: false, observed: false, rule: null, rules: [], status: 'pass' });
    // Not the seed rule, but the /dev/tcp rule must catch a reverse shell started by node.
    expect(report.rows.find((r) => r.variant === 'look-alike-node-parent')).toMatchObject({ observed: true, rule: DEV_TCP_RULE_ID, status: 'pass' });
    expect(detector.started).toBe(1);
    expect(detector.stopped).toBe(1);
  });

  it('fails a missed reverse shell and false positives, naming the rules', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector, (v, marker) => (v.name === 'bash-setsid' ? [] : [seedAlert(marker, 1)]));
    const report = await runLab({ detector, storm: false, variants: names, simulate, ...fast });
    expect(report.passed).toBe(false);
    expect(report.rows.find((r) => r.variant === 'bash-setsid')).toMatchObject({ observed: false, status: 'fail', reason: `no alert from rule ${SEED_RULE_ID}` });
    expect(report.rows.find((r) => r.variant === 'benign-no-dev-tcp')).toMatchObject({
      observed: true,
      status: 'fail',
      reason: `unexpected alert from rule ${SEED_RULE_ID}`,
    });
    expect(report.rows.find((r) => r.variant === 'look-alike-node-parent')).toMatchObject({
      status: 'fail',
      reason: `no alert from rule ${DEV_TCP_RULE_ID}; unexpected alert from rule ${SEED_RULE_ID}`,
    });
  });

  it('lets other rules fire on a reverse shell, but nothing at all on a benign variant', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector, (v, marker) => [...v.mustFire.map((r) => seedAlert(marker, 1, r)), seedAlert(marker, 1, DEV_TCP_RULE_ID)]);
    const report = await runLab({ detector, storm: false, variants: ['bash-setsid', 'benign-nohup-plain'], simulate, ...fast });
    expect(report.rows[0]).toMatchObject({ status: 'pass', rule: SEED_RULE_ID, rules: [SEED_RULE_ID, DEV_TCP_RULE_ID] });
    expect(report.rows[1]).toMatchObject({ status: 'fail', reason: `unexpected alert from rule ${DEV_TCP_RULE_ID}` });
  });

  it('fails an alert from another rule than the expected one', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector, (v, marker) => [seedAlert(marker, 1, 'other-rule')]);
    const report = await runLab({ detector, storm: false, variants: ['bash-setsid'], simulate, ...fast });
    expect(report.rows[0]).toMatchObject({ status: 'fail', rule: 'other-rule', reason: `no alert from rule ${SEED_RULE_ID}` });
  });

  it('measures from the launch when the alert does not carry the event time', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector, (v, marker) => [{ rule: { id: SEED_RULE_ID }, process: { command_line: `x #${marker}` } }]);
    const report = await runLab({ detector, storm: false, variants: ['bash-setsid'], simulate, ...fast });
    expect(report.rows[0]).toMatchObject({ status: 'pass', latencyMs: 9, latencyFrom: 'launch' });
  });

  it('repeats every variant under the storm, stopping the storm afterwards', async () => {
    const detector = new FakeDetector();
    const { simulate, launches } = scenario(detector);
    let storms = 0;
    let stops = 0;
    const startStorm = () => {
      storms += 1;
      return { marker: "storm", stop: () => void (stops += 1) };
    };
    const report = await runLab({ detector, storm: true, variants: names, simulate, startStorm, ...fast });
    expect(launches).toEqual([names, names]);
    expect(storms).toBe(1);
    expect(stops).toBe(1);
    expect(report.rows.map((r) => r.phase)).toEqual(['calm', 'calm', 'calm', 'calm', 'storm', 'storm', 'storm', 'storm']);
    expect(report.passed).toBe(true);
    // Markers differ between phases, so a calm alert cannot pass a storm row.
    expect(report.rows.every((r) => r.status === 'pass')).toBe(true);
  });

  it('runs every class in every launch form in both phases, tying each alert to its own row', async () => {
    const detector = new FakeDetector();
    const { simulate, launches } = scenario(detector);
    const report = await runLab({ detector, storm: true, simulate, startStorm: () => ({ marker: 'storm', stop: () => {} }), ...fast });
    expect(launches).toEqual([LAB_VARIANTS.map((v) => v.name), LAB_VARIANTS.map((v) => v.name)]);
    expect(report.passed).toBe(true);
    for (const phase of ['calm', 'storm'] as const) {
      const rows = report.rows.filter((r) => r.phase === phase);
      for (const shellClass of SHELL_CLASSES) {
        for (const form of LAUNCH_FORMS) {
          const names = LAB_VARIANTS.filter((v) => v.shellClass === shellClass && v.form === form).map((v) => v.name);
          expect(rows.filter((r) => names.includes(r.variant) && r.status === 'pass').length, `${phase} ${shellClass} × ${form}`).toBeGreaterThanOrEqual(1);
        }
      }
      // The interpreter classes expect their own rule first, so rows show and time its alert.
      expect(rows.find((r) => r.variant === 'php-proc-open-nohup')).toMatchObject({ rule: INTERPRETER_SOCKET_RULE_ID, rules: [INTERPRETER_SOCKET_RULE_ID, SOCKET_STDIO_RULE_ID] });
    }
  });

  it('counts skipped variants apart and alerts from other activity as unattributed', async () => {
    const detector = new FakeDetector();
    const simulate = async (variants: LabVariant[]): Promise<SimulationResult[]> => {
      detector.emit(seedAlert('someone-else', 1), 2);
      return variants.map((v) => ({ variant: v.name, status: 'skipped', skipReason: 'zsh not installed', marker: `m-${v.name}`, port: 0, launchedAtMs: 0, connections: 0, exitCode: null, leftovers: 0 }));
    };
    const report = await runLab({ detector, storm: false, variants: ['zsh-setsid'], simulate, ...fast });
    expect(report.rows[0]).toMatchObject({ status: 'skipped', observed: null, reason: 'zsh not installed' });
    expect(report.passed).toBe(true);
    expect(report.unattributedAlerts).toBe(1);
  });

  it('counts the agent loss reports per phase and names them next to a miss', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector, (v, marker) => {
      detector.emit({ rule: { id: 'loss', name: 'execwarden: events lost' }, execwarden: { loss: { events_dropped: 9 } } }, 1);
      return v.name === 'bash-setsid' ? [] : v.mustFire.map((r) => seedAlert(marker, 1, r));
    });
    const report = await runLab({ detector, storm: false, variants: ['bash-setsid', 'bash-nohup'], simulate, ...fast });
    expect(report.lossReports).toEqual({ calm: 2, storm: 0, response: 0 });
    expect(report.unattributedAlerts).toBe(0);
    expect(report.rows[0]).toMatchObject({ status: 'fail', reason: `no alert from rule ${SEED_RULE_ID} (the agent reported lost events in this phase)` });
    expect(formatLabTable(report)).toContain('the agent reported lost events 2 time(s) during the run (calm 2, storm 0, response 0)');
  });

  it('stops the detector even when a simulation throws', async () => {
    const detector = new FakeDetector();
    const simulate = async (): Promise<SimulationResult[]> => {
      throw new Error('boom');
    };
    await expect(runLab({ detector, storm: false, variants: ['bash-setsid'], simulate, ...fast })).rejects.toThrow('boom');
    expect(detector.stopped).toBe(1);
  });
});

describe('formatLabTable', () => {
  it('prints one line per row and a verdict line', async () => {
    const detector = new FakeDetector();
    const { simulate } = scenario(detector);
    const report = await runLab({ detector, storm: false, variants: names, simulate, ...fast });
    const text = formatLabTable(report);
    expect(text.split('\n')[0]).toMatch(/^variant\s+expected\s+observed\s+rule\s+latency\s+result$/);
    expect(text).toMatch(/bash-setsid\s+alert\s+alert\s+Potential Reverse Shell via Background Process \(259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39\)\s+7\.0 ms\s+PASS/);
    expect(text).toMatch(/benign-no-dev-tcp\s+none\s+none\s+-\s+-\s+PASS/);
    expect(text.trimEnd().split('\n').at(-1)).toBe('PASS: 4 passed, 0 failed, 0 skipped');
  });
});

describe('the response phase', () => {
  const killedAlert = (marker: string, eventTime: number, killedAfterMs: number | null): Record<string, unknown> => ({
    ...seedAlert(marker, eventTime),
    execwarden: {
      response: [
        { action: 'kill_process', field: 'process.entity_id', state: 0, result: killedAfterMs === null ? 'gone' : 'killed', '@timestamp': new Date(eventTime + (killedAfterMs ?? 0)).toISOString() },
      ],
    },
  });

  async function responseRun(outcome: (name: string) => { killedAfterMs: number | null; allGone: boolean }) {
    const detector = new FakeDetector();
    const responder = new FakeDetector();
    const calm = scenario(detector);
    let responsePhase = false;
    const simulate: LabOptions['simulate'] = async (variants, options) => {
      if (!(options as { response?: boolean }).response) return calm.simulate(variants);
      responsePhase = true;
      return variants.map((v, i) => {
        const marker = `r-${i}-${v.name}`;
        const eventTime = 2_000_000 + i * 1000;
        const { killedAfterMs, allGone } = outcome(v.name);
        responder.emit(killedAlert(marker, eventTime, killedAfterMs), eventTime + 5);
        return { variant: v.name, status: 'ran', marker, port: 1, launchedAtMs: eventTime - 2, connections: 1, exitCode: null, leftovers: 0, allGoneAtMs: allGone ? eventTime + 20 : null };
      });
    };
    const report = await runLab({ detector, storm: false, variants: ['bash-setsid'], simulate, settleMs: 0, alertWaitMs: 0, response: { detector: responder, variants: ['bash-setsid', 'bash-nohup', 'bash-dev-tcp-bare'] } });
    return { report, responder, responsePhase };
  }

  it('passes a shell killed within the bound with nothing left running, and shows the time to the kill', async () => {
    const { report, responder, responsePhase } = await responseRun(() => ({ killedAfterMs: 3, allGone: true }));
    expect(responsePhase).toBe(true);
    expect(responder.started).toBe(1);
    expect(responder.stopped).toBe(1);
    const rows = report.rows.filter((r) => r.phase === 'response');
    expect(rows.map((r) => [r.variant, r.status, r.killedInMs])).toEqual([
      ['bash-setsid', 'pass', 3],
      ['bash-nohup', 'pass', 3],
      ['bash-dev-tcp-bare', 'pass', 3],
    ]);
    expect(report.passed).toBe(true);
    expect(formatLabTable(report)).toMatch(/response\s+bash-setsid .* killed in 3\.0 ms\s+PASS/);
  });

  it('fails a shell not killed, killed too late, or with processes left', async () => {
    const { report } = await responseRun((name) =>
      name === 'bash-setsid' ? { killedAfterMs: null, allGone: true } : name === 'bash-nohup' ? { killedAfterMs: 5000, allGone: true } : { killedAfterMs: 2, allGone: false },
    );
    const reasons = Object.fromEntries(report.rows.filter((r) => r.phase === 'response').map((r) => [r.variant, r.reason]));
    expect(reasons).toEqual({
      'bash-setsid': 'no kill recorded (gone)',
      'bash-nohup': 'killed 5000 ms after the matched exec (bound 1000 ms)',
      'bash-dev-tcp-bare': 'processes of the simulation were still running at the time limit',
    });
    expect(report.passed).toBe(false);
  });
});
