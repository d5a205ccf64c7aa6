/**
 * The rule index with Defend's rules in it: what it reads from regexes, lineage relations and the
 * state of sequences, and that skipping rules on those grounds never changes a match.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineageTracker, parseQuery, type EqlEvent } from '../../src/eql/index.js';
import { loadRules, loadRuleText, RuleSet, type LoadedRule } from '../../src/rules/index.js';
import { indexStages } from '../../src/rules/rule-set.js';
import { LINEAGE_FIELD, stageRequirement, type FieldAtom } from '../../src/rules/stage-requirements.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';
import { execEvent } from './support/exec-event.js';
import { execMix } from './support/exec-mix.js';

function describeAtom(atom: FieldAtom): string {
  if (atom.present) return `${atom.field}?`;
  const texts = [...[...atom.values].map((v) => `=${v}`), ...atom.prefixes.map((p) => `^${p}`), ...atom.infixes.map((i) => `~${i}`)].sort();
  return `${atom.field}${atom.caseInsensitive ? '/i' : ''}${texts.join(',')}`;
}

function requirementOf(query: string, options: { lineage?: boolean } = {}): string[] {
  const body = parseQuery(query, undefined, 'defend').body;
  if (body.kind !== 'eventQuery') throw new Error('event query expected');
  return stageRequirement(body.filter.condition, new Set(), options).map((clause) => clause.map(describeAtom).sort().join(' | '));
}

/** A Defend rule file around `query`. */
function defendRule(query: string, id = '5a0b7c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d'): LoadedRule {
  const text = `[rule]\nid = "${id}"\nname = "r"\ndescription = "d"\nos_list = ["linux"]\nversion = "1.0.0"\nquery = '''\n${query}\n'''\n`;
  const { rule, diagnostics } = loadRuleText(text, 'r.toml');
  if (rule === null) throw new Error(JSON.stringify(diagnostics));
  return rule;
}

describe('what the index reads from a regex', () => {
  it('takes the text every match must have', () => {
    expect(requirementOf('process where process.executable regex """/proc/(self|[0-9]{1,7})/fd/[0-9]{1,7}"""')).toEqual(['process.executable^/proc/', 'process.executable~/fd/']);
    // ":" before ".": rarer in a command line
    expect(requirementOf('process where process.command_line regex """.*[0-9]{1,3}\\.[0-9]{1,3}:[0-9]{1,5}.*"""')).toEqual(['process.command_line~:', 'process.command_line~.']);
    // one of the blanks; a one-character prefix ("/") is left out when something else is needed
    expect(requirementOf('process where process.executable regex~ """/[a-z0-9\\s_\\-\\\\./]+\\s"""')).toEqual(['process.executable/i~\t,~\n,~\r,~ ']);
    expect(requirementOf('process where process.args regex ("/proc/.*", ".*/fd/[0-9]")')).toEqual(['process.args^/proc/,~/fd/']);
    expect(requirementOf('process where process.args regex ".*"')).toEqual(['process.args?']);
  });

  it('in a disjunction, a regex branch is one atom among the others', () => {
    expect(requirementOf('process where process.name == "gost" or process.command_line regex """.*[0-9]+:[0-9]+.*"""')).toEqual(['process.command_line~: | process.name=gost']);
  });
});

describe('lineage relations in the index', () => {
  const query = 'process where process.name == "curl" or descendant of [process where process.name == "dnf"]';

  it('are atoms on a pseudo-field only when the index can read it', () => {
    expect(requirementOf(query)).toEqual([]);
    const [clause] = requirementOf(query, { lineage: true });
    expect(clause).toMatch(new RegExp(`^${LINEAGE_FIELD}=descendant \\{.*\\} \\| process\\.name=curl$`));
  });

  it('offer a lineage rule only the events of processes with the relation', () => {
    const rule = defendRule(query);
    const set = new RuleSet([rule]);
    const dnf = execEvent({ name: 'dnf', args: ['dnf'], pid: 10, entityId: 'p-10', parent: { name: 'bash', args: ['bash'], pid: 9, entityId: 'p-9' } });
    const sh = execEvent({ name: 'sh', args: ['sh'], pid: 11, entityId: 'p-11', parent: { name: 'dnf', args: ['dnf'], pid: 10, entityId: 'p-10' } });
    const ls = execEvent({ name: 'ls', args: ['ls'], pid: 12, entityId: 'p-12', parent: { name: 'bash', args: ['bash'], pid: 9, entityId: 'p-9' } });
    expect(set.evaluate(dnf)).toEqual([]);
    expect(set.candidates(dnf)).toEqual([]);
    expect(set.evaluate(sh)).toHaveLength(1);
    expect(set.evaluate(ls)).toEqual([]);
    expect(set.candidates(ls)).toEqual([]);
    expect(set.stats().evaluations).toBe(1);
  });

  it('relationsOf names what holds, and nothing for a process without a relation', () => {
    const tracker = new LineageTracker();
    const bit = tracker.register('q', (event) => (event.process as { name?: string } | undefined)?.name === 'dnf');
    const dnf = { process: { entity_id: 'a', name: 'dnf' } };
    const child = { process: { entity_id: 'b', name: 'x', parent: { entity_id: 'a' } } };
    tracker.observe(dnf);
    expect(tracker.relationsOf(dnf)).toEqual(['event q']);
    tracker.observe(child);
    expect(tracker.relationsOf(child)).toEqual(['child q', 'descendant q']);
    const other = { process: { entity_id: 'c', name: 'y' } };
    tracker.observe(other);
    expect(tracker.relationsOf(other)).toBeNull();
    expect(bit).toBe(0);
  });
});

describe('sequences in the index', () => {
  it('offer a later stage only while a partial sequence waits for it', () => {
    // the first stage waits for an action this stream never has; the second would take every exec
    const rule = defendRule('sequence by process.entity_id [process where event.action == "memfd_create"] [process where event.action == "exec"]');
    const stages = indexStages(rule);
    expect(stages.map((s) => s.openAfter)).toEqual([undefined, { from: 0, to: 0 }]);
    const set = new RuleSet([rule]);
    for (const event of execMix(200, 5)) set.evaluate(event);
    expect(set.stats().evaluations).toBe(0);
    const memfd = { ...execEvent({ name: 'x', args: ['x'], pid: 20, entityId: 'm-20' }), event: { category: ['process'], type: ['start'], action: 'memfd_create' } };
    set.evaluate(memfd);
    expect(set.evaluate(execEvent({ name: 'x', args: ['x'], pid: 20, entityId: 'm-20' }))).toHaveLength(1);
  });

  it('describe runs and until: a repeated stage, then until while anything is open', () => {
    const rule = defendRule('sequence by process.entity_id [process where event.action == "fork"] [process where event.action == "exec"] with runs=2 [process where event.action == "end"] until [process where event.action == "ptrace"]');
    expect(indexStages(rule).map((s) => s.openAfter)).toEqual([undefined, { from: 0, to: 1 }, { from: 2, to: 2 }, { from: 0, to: 2 }]);
  });
});

describeWithCorpus("the index over Elastic Defend's process rules (corpus)", () => {
  it('gives the same matches as running every rule on every event, lineage and sequences included', async () => {
    const rules = (await loadRules([join(CORPUS_DIR, 'elastic-defend-linux')])).rules.filter((r) => r.neverMatches === null);
    const indexed = new RuleSet(rules);
    // The reference: one tracker fed every event, every rule on every event, a matcher per sequence.
    const tracker = new LineageTracker();
    const compiled = rules.map((rule) => ({ rule, query: rule.compiled.withLineage(tracker) }));
    const matchers = new Map(compiled.flatMap(({ rule, query }) => (query.kind === 'sequence' ? [[rule, query.createMatcher()] as const] : [])));
    const key = (rule: LoadedRule, events: EqlEvent[]) => `${rule.ruleId}:${events.map((e) => (e.event as { sequence?: number }).sequence).join(',')}`;
    const events = [...execMix(3000, 9), ...attacks()];
    const viaIndex: string[] = [];
    const viaAll: string[] = [];
    for (const event of events) {
      viaIndex.push(...indexed.evaluate(event).map((m) => key(m.rule, m.events)));
      tracker.observe(event);
      for (const { rule, query } of compiled) {
        const matcher = matchers.get(rule);
        if (matcher !== undefined) viaAll.push(...matcher.push(event).map((m) => key(rule, m.events)));
        else if (query.kind === 'event' && query.matches(event)) viaAll.push(key(rule, [event]));
      }
    }
    expect(viaIndex.sort()).toEqual(viaAll.sort());
    expect(viaIndex.length).toBeGreaterThan(10);
    // and it skips most rules for most events
    expect(indexed.stats().evaluations / events.length).toBeLessThan(4);
  });
});

/** Events a few Defend rules fire on: a telnet login bypass chain and finds for secrets. */
function attacks(): EqlEvent[] {
  let sequence = 900_000;
  const at = (spec: Parameters<typeof execEvent>[0]) => execEvent({ timestampMs: Date.UTC(2026, 0, 12, 12, 0, 0) + sequence, sequence: ++sequence, ...spec });
  const telnetd = { name: 'telnetd', args: ['telnetd'], pid: 500, entityId: 'a-500' };
  const login = { name: 'login', args: ['login', '-f', 'root'], pid: 501, entityId: 'a-501' };
  const shell = { name: 'bash', args: ['-bash'], pid: 502, entityId: 'a-502' };
  const parent = { name: 'bash', args: ['bash'], pid: 600, entityId: 'a-600' };
  const find = (pid: number, path: string) => at({ name: 'find', args: ['find', path, '-type', 'f', '-name', '*password*'], pid, entityId: `a-${pid}`, parent });
  return [
    at({ ...telnetd, parent: { name: 'systemd', args: ['systemd'], pid: 1, entityId: 'a-1' } }),
    at({ ...login, parent: telnetd }),
    at({ ...shell, parent: login }),
    at({ name: 'id', args: ['id'], pid: 503, entityId: 'a-503', parent: shell }),
    find(601, '/home'),
    find(602, '/etc'),
    find(603, '/srv'),
  ];
}
