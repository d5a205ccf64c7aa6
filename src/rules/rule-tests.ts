/**
 * Test cases shipped beside rules. For a rule file `dir/<stem>.toml` the cases live in
 * `dir/tests/<stem>.ndjson`, one JSON object per line:
 *
 *     {"name": "setsid from bash", "expect": true, "event": {…ECS event…}}
 *     {"name": "mkfifo then nc", "expect": true, "events": [{…}, {…}]}
 *
 * `event` is a single event; `events` is a stream fed in order (sequence rules). A case passes
 * when the rule matches at least once exactly when `expect` is true. Each case runs on a fresh
 * rule set, so sequence state never leaks between cases. Keeping cases out of the TOML keeps
 * the rule files in Elastic's format.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { EqlEvent } from '../eql/index.js';
import { RuleSet } from './rule-set.js';
import type { LoadedRule } from './rule-types.js';

export interface RuleTestCase {
  line: number;
  name: string;
  expect: boolean;
  events: EqlEvent[];
}

export interface RuleTestCaseResult {
  case: RuleTestCase;
  matched: boolean;
  passed: boolean;
}

export interface RuleTestReport {
  rule: LoadedRule;
  /** The test file looked for; `found` false when it does not exist. */
  testFile: string;
  found: boolean;
  results: RuleTestCaseResult[];
  /** Lines of the test file that are not valid cases. */
  problems: { line: number; message: string }[];
  passed: boolean;
}

export function testFileFor(ruleFile: string): string {
  return join(dirname(ruleFile), 'tests', `${basename(ruleFile, '.toml')}.ndjson`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseTestCases(text: string): { cases: RuleTestCase[]; problems: { line: number; message: string }[] } {
  const cases: RuleTestCase[] = [];
  const problems: { line: number; message: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      problems.push({ line, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    if (!isObject(value) || typeof value.expect !== 'boolean') {
      problems.push({ line, message: 'a case is an object with a boolean "expect"' });
      return;
    }
    const events = value.events !== undefined ? value.events : value.event !== undefined ? [value.event] : undefined;
    if (!Array.isArray(events) || events.length === 0 || !events.every(isObject)) {
      problems.push({ line, message: 'a case needs "event" (an object) or "events" (a non-empty array of objects)' });
      return;
    }
    cases.push({ line, name: typeof value.name === 'string' ? value.name : `line ${line}`, expect: value.expect, events });
  });
  return { cases, problems };
}

export function runTestCase(rule: LoadedRule, testCase: RuleTestCase): RuleTestCaseResult {
  const set = new RuleSet([rule]);
  let matched = false;
  for (const event of testCase.events) if (set.evaluate(event).length > 0) matched = true;
  return { case: testCase, matched, passed: matched === testCase.expect };
}

export async function runRuleTests(rule: LoadedRule): Promise<RuleTestReport> {
  const testFile = testFileFor(rule.file);
  let text: string;
  try {
    text = await readFile(testFile, 'utf8');
  } catch {
    return { rule, testFile, found: false, results: [], problems: [], passed: true };
  }
  const { cases, problems } = parseTestCases(text);
  const results = cases.map((c) => runTestCase(rule, c));
  return { rule, testFile, found: true, results, problems, passed: problems.length === 0 && results.every((r) => r.passed) };
}
