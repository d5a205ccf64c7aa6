/**
 * Which kinds of process event some rule of a set could match, read from the rules' stage
 * requirements: the agent builds documents only for those.
 */
import { describe, expect, it } from 'vitest';
import { PROCESS_EVENT_SHAPES } from '../../src/ecs/index.js';
import { loadRuleSet, loadRuleText, RuleSet, type LoadedRule } from '../../src/rules/index.js';

function defendRule(query: string): LoadedRule {
  const text = `[rule]
description = "d"
id = "00000000-0000-4000-8000-000000000001"
name = "n"
os_list = ["linux"]
version = "1.0.0"
query = '''
${query}
'''
min_endpoint_version = "8.10.0"
`;
  const { rule, diagnostics } = loadRuleText(text, 'r.toml', { ruleset: 'test' });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return rule!;
}

const shapes = (...queries: string[]) => [...new RuleSet(queries.map(defendRule)).shapesMatched(PROCESS_EVENT_SHAPES)].sort();

describe('RuleSet.shapesMatched', () => {
  it('reads event.action, event.type and the category from each stage', () => {
    expect(shapes('process where event.type == "start" and event.action == "exec" and process.name == "nc"')).toEqual(['exec']);
    expect(shapes('process where event.action in ("fork", "exec")')).toEqual(['exec', 'fork']);
    expect(shapes('process where event.type : "END"')).toEqual(['end']);
    expect(shapes('process where event.type == "change"')).toEqual(['gid_change', 'session_id_change', 'uid_change']);
    expect(shapes('network where event.action == "connection_attempted"')).toEqual([]);
  });

  it('keeps every kind a stage might take: a disjunction with another field, any where, a sequence and its until', () => {
    const all = [...PROCESS_EVENT_SHAPES.keys()].sort();
    expect(shapes('process where event.action == "exec" or process.name == "sh"')).toEqual(all);
    expect(shapes('any where process.name == "sh"')).toEqual(all);
    expect(shapes('sequence by process.entity_id [process where event.action == "exec"] [process where event.action == "end"]')).toEqual(['end', 'exec']);
    expect(shapes('sequence by process.entity_id [process where event.action == "exec"] [process where event.action == "exec"] until [process where event.type == "end"]')).toEqual(['end', 'exec']);
  });

  it('keeps every kind when a rule uses process lineage: the tracker learns from every event', () => {
    expect(shapes('process where event.action == "exec" and descendant of [process where process.name == "sshd"]')).toEqual([...PROCESS_EVENT_SHAPES.keys()].sort());
  });

  it('the bundled rules read execs only', async () => {
    const { ruleSet } = await loadRuleSet();
    expect([...ruleSet!.shapesMatched(PROCESS_EVENT_SHAPES)]).toEqual(['exec']);
  });
});
