/**
 * The rule selection on the command line: `rules list` marks what the selection leaves out and
 * filters what it shows, `rules test` tests what runs, `run` takes the same options, and a
 * config file's [rules] can be the starting point.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { rulesListAction, rulesTestAction } from '../../src/cli/rules.js';
import { TextSink } from '../support/helpers.js';

const SEED = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
const BASE64 = 'e8258ec6-9971-41b6-8902-034a8ab7005d';
const OVERSIZED = 'c2f6e1a4-8d3b-4f57-9a0e-5b7c1d2e3f40';
const DEV_TCP = '39a356fb-218c-4721-8503-d9887b537ca3';
const BUNDLED_RULES = 13;

function io(): CommandIo & { stdout: TextSink; stderr: TextSink } {
  return { stdout: new TextSink(), stderr: new TextSink(), stdin: new PassThrough() };
}

interface ListedRule {
  rule_id: string;
  severity: string;
  format: string;
  tags: string[];
  enabled: boolean;
  disabled: string | null;
}

async function listJson(options: Partial<Parameters<typeof rulesListAction>[0]>): Promise<ListedRule[]> {
  const out = io();
  await rulesListAction({ paths: [], json: true, ...options }, out);
  return out.stdout.lines().map((line) => JSON.parse(line) as ListedRule);
}

const dir = mkdtempSync(join(tmpdir(), 'execwarden-cli-selection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rules list with a rule selection', () => {
  it('marks the rules left out, and says why', async () => {
    const out = io();
    const result = await rulesListAction({ paths: [], disableTags: ['tactic: defense evasion'], disableRules: [SEED] }, out);
    expect(result).toEqual({ exitCode: 0, rules: BUNDLED_RULES, disabled: 3 });
    const lines = out.stdout.lines();
    expect(lines).toHaveLength(BUNDLED_RULES + 1);
    expect(lines.find((l) => l.startsWith(SEED))).toMatch(/Potential Reverse Shell via Background Process {2}\[disabled by --disable-rule\]$/);
    expect(lines.find((l) => l.startsWith(BASE64))).toMatch(/\[disabled by --disable-tag "tactic: defense evasion"\]$/);
    expect(lines.find((l) => l.startsWith(DEV_TCP))).not.toMatch(/disabled/);
    expect(out.stderr.text).toBe('');
  });

  it('lists each rule as JSON with its tags and whether it runs', async () => {
    const rules = await listJson({ enableTags: ['Tactic: Defense Evasion'] });
    expect(rules.filter((r) => r.enabled).map((r) => r.rule_id)).toEqual([BASE64, OVERSIZED]);
    const seed = rules.find((r) => r.rule_id === SEED)!;
    expect(seed).toMatchObject({ enabled: false, disabled: 'not enabled: neither its id nor any of its tags is enabled', format: 'detection-rules' });
    expect(seed.tags).toEqual(expect.arrayContaining(['OS: Linux', 'Tactic: Execution', 'Tactic: Command and Control']));
  });

  it('warns on stderr about a name that matches no rule, and still lists', async () => {
    const out = io();
    const result = await rulesListAction({ paths: [], disableRules: ['259be2d8-3b1a-4c2c-a0eb-0c8e77f35e3a'] }, out);
    expect(result).toEqual({ exitCode: 0, rules: BUNDLED_RULES, disabled: 0 });
    expect(out.stderr.lines()).toEqual(['command line: warning RULE0403 --disable-rule: no loaded rule has the id "259be2d8-3b1a-4c2c-a0eb-0c8e77f35e3a"']);
  });

  it('filters what it shows by id, tag, minimum severity and format', async () => {
    expect((await listJson({ ids: [SEED.toUpperCase(), DEV_TCP] })).map((r) => r.rule_id)).toEqual([SEED, DEV_TCP]);
    expect((await listJson({ tags: ['Tactic: Defense Evasion'] })).map((r) => r.rule_id)).toEqual([BASE64, OVERSIZED]);
    const high = await listJson({ minSeverity: 'high' });
    expect(high.length).toBeGreaterThan(0);
    expect(high.every((r) => r.severity === 'high' || r.severity === 'critical')).toBe(true);
    expect(high.map((r) => r.rule_id)).not.toContain(SEED);
    expect(await listJson({ format: 'defend' })).toEqual([]);
    expect(await listJson({ format: 'detection-rules' })).toHaveLength(BUNDLED_RULES);
  });

  it('starts from a config file\'s [rules] when given one', async () => {
    const config = join(dir, 'config.toml');
    writeFileSync(config, `[rules]\ndisable = ["${DEV_TCP}"]\ndisable_tags = ["Nope"]\n`);
    const out = io();
    const result = await rulesListAction({ paths: [], json: true, config, disableRules: [SEED] }, out);
    expect(result).toMatchObject({ exitCode: 0, disabled: 2 });
    const disabled = out.stdout.lines().map((l) => JSON.parse(l) as ListedRule).filter((r) => !r.enabled);
    expect(disabled.map((r) => [r.rule_id, r.disabled])).toEqual([
      [SEED, 'disabled by --disable-rule'],
      [DEV_TCP, 'disabled by rules.disable'],
    ]);
    expect(out.stderr.lines()).toEqual([`${config}:3:1: warning RULE0403 rules.disable_tags: no loaded rule carries the tag "Nope"`]);
  });
});

describe('rules test with a rule selection', () => {
  it('tests only the rules that run', async () => {
    const out = io();
    const result = await rulesTestAction({ paths: [], enableRules: [SEED, DEV_TCP] }, out);
    expect(result).toMatchObject({ exitCode: 0, rules: 2, disabled: BUNDLED_RULES - 2, failed: 0 });
    const lines = out.stdout.lines();
    expect(lines.filter((l) => l.startsWith('PASS'))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(new RegExp(`^2 rules \\(${BUNDLED_RULES - 2} left out by the rule selection\\), \\d+ cases: \\d+ cases passed, 0 failed, 0 rules without tests$`));
  });
});

describe('the command line', () => {
  async function cli(...args: string[]): Promise<{ status: number; out: ReturnType<typeof io> }> {
    const out = io();
    const status = await runCli(['node', 'execwarden', ...args], out);
    return { status, out };
  }

  it('parses the selection and the filters of rules list', async () => {
    const { status, out } = await cli('rules', 'list', '--json', '--disable-tag', 'Tactic: Defense Evasion', '--disable-rule', SEED, '--severity', 'medium', '--tag', 'OS: Linux');
    expect(status).toBe(0);
    const rules = out.stdout.lines().map((l) => JSON.parse(l) as ListedRule);
    expect(rules).toHaveLength(BUNDLED_RULES);
    expect(rules.filter((r) => !r.enabled).map((r) => r.rule_id)).toEqual([BASE64, OVERSIZED, SEED]);
  });

  it('refuses a severity or format it does not know', async () => {
    expect((await cli('rules', 'list', '--severity', 'severe')).status).not.toBe(0);
    const { status, out } = await cli('rules', 'list', '--format', 'sigma');
    expect(status).not.toBe(0);
    expect(out.stderr.text).toMatch(/Allowed choices are detection-rules, defend/);
  });

  it('offers the selection on run, rules list and rules test', async () => {
    for (const command of [['run'], ['rules', 'list'], ['rules', 'test']]) {
      const { status, out } = await cli(...command, '--help');
      expect(status).toBe(0);
      for (const option of ['--enable-rule <id>', '--enable-tag <tag>', '--disable-rule <id>', '--disable-tag <tag>']) expect(out.stdout.text).toContain(option);
    }
  });

  it('stops run before it starts on a bad selection', async () => {
    const { status, out } = await cli('run', '--config', join(dir, 'absent.toml'), '--disable-tag', '');
    expect(status).toBe(2);
    expect(out.stderr.text).toMatch(/cannot read the config file/);
    const config = join(dir, 'bad-selection.toml');
    writeFileSync(config, '[rules]\ndisable = [""]\n');
    const bad = await cli('run', '--config', config);
    expect(bad.status).toBe(2);
    expect(bad.out.stderr.text).toContain(`${config}: rules.disable: "" must not be empty [CONFIG_INVALID]`);
  });
});
