import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { parseQuery } from '../../src/eql/index.js';
import { FILLED_FIELDS, queryReach, unfilledFields } from '../../src/rules/filled-fields.js';
import { loadRules, RuleDiagnosticCode } from '../../src/rules/index.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';

const reach = (query: string) => queryReach(parseQuery(query));

describe('what execwarden fills', () => {
  it('lists the fields Elastic\'s rules need for identities, sessions, containers and environment', () => {
    for (const field of [
      'process.real_user.id', 'process.real_group.id', 'process.saved_user.id', 'process.saved_group.name',
      'user.effective.id', 'user.Ext.real.id', 'user.Ext.real.name', 'group.Ext.real.id', 'group.Ext.real.name',
      'process.thread.capabilities.effective', 'process.thread.capabilities.permitted',
      'process.parent.thread.capabilities.effective', 'process.parent.real_user.id',
      'container.id', 'container.security_context.privileged',
      'process.entry_leader.entry_meta.type', 'process.entry_leader.entry_meta.source.ip',
      'process.entry_leader.executable', 'process.entry_leader.args', 'process.entry_leader.same_as_process',
      'process.session_leader.executable', 'process.group_leader.executable', 'process.group_leader.args',
      'process.parent.group_leader.entity_id', 'process.tty.char_device.major', 'process.interactive',
      'process.env_vars', 'process.Ext.memfd.name', 'process.Ext.ptrace.child_pid', 'process.previous.args',
    ]) {
      expect(FILLED_FIELDS.has(field), field).toBe(true);
    }
    expect(unfilledFields(['process.name', 'auditd.data.syscall', 'process.code_signature.trusted'])).toEqual([
      'auditd.data.syscall', 'process.code_signature.trusted',
    ]);
  });

  it('leaves out branches that need values execwarden never writes', () => {
    const windows = reach(
      'process where event.type == "start" and (process.name == "x" or (host.os.type == "windows" and process.code_signature.trusted == true))',
    );
    expect(windows.neverMatches).toBeNull();
    expect([...windows.fields].sort()).toEqual(['event.type', 'process.name']);
    const negated = reach('process where process.name == "x" and not (host.os.type : "windows" and process.pe.original_file_name == "a")');
    expect([...negated.fields]).toEqual(['process.name']);
  });

  it('says when a whole query can never match here, and why', () => {
    expect(reach('process where event.action == "load_module" and process.Ext.load_module.taint_flags != null').neverMatches).toBe(
      'it needs event.action == "load_module", which execwarden never writes',
    );
    expect(reach('process where event.type in ("info") and user.id == "0"').neverMatches).toContain('event.type');
    expect(reach('process where event.type == "change" and event.action == "uid_change" and user.id == "0"').neverMatches).toBeNull();
    expect(reach('network where destination.port == 4444').neverMatches).toBe('it reads network events, which execwarden does not produce');
    expect(reach('sequence [process where event.action == "exec"] [process where event.action == "load_module"]').neverMatches).toContain('load_module');
  });

  it('counts only exact tests as impossible; patterns and case-folded matches of written values stay possible', () => {
    expect(reach('process where event.action : "ex*" and process.name == "a"').neverMatches).toBeNull();
    expect(reach('process where event.action in~ ("EXEC") and process.name == "a"').neverMatches).toBeNull();
    expect(reach('process where event.action in ("exec", "exec_event")').neverMatches).toBeNull();
    expect(reach('process where event.action == "EXEC"').neverMatches).not.toBeNull();
    expect(reach('process where event.action == "ptrace" and process.Ext.ptrace.child_pid > 0').neverMatches).toBeNull();
  });
});

describeWithCorpus("rules of Elastic's corpus against what execwarden fills", () => {
  it('Elastic detection rules: the only unfilled fields are auditd ones', async () => {
    const folders = ['elastic-linux-process', 'elastic-linux-sequence'].map((f) => join(CORPUS_DIR, f));
    const { diagnostics } = await loadRules(folders);
    const unfilled = diagnostics.filter((d) => d.code === RuleDiagnosticCode.UnfilledFields);
    expect(unfilled.length).toBeGreaterThan(0);
    for (const d of unfilled) {
      const fields = d.message.replace(/^.*never fills: /, '').replace(/ \(rule .*$/, '').split(', ');
      expect(fields.every((f) => f.startsWith('auditd.')), d.message).toBe(true);
    }
    // Rules that need events execwarden does not produce (uid changes, module loads) are named as such.
    const never = diagnostics.filter((d) => d.code === RuleDiagnosticCode.NeverMatches);
    expect(never.length).toBeGreaterThan(0);
    expect(never.every((d) => d.severity === 'warning' && /never writes|does not produce/.test(d.message))).toBe(true);
  });

  it("Elastic Defend's process-only behavior rules read no field execwarden leaves empty", () => {
    const dir = join(CORPUS_DIR, 'elastic-defend-linux');
    const manifest = JSON.parse(readFileSync(join(dir, '_manifest.json'), 'utf8')) as { rules: Array<{ file: string; categories: string[] }> };
    const processOnly = manifest.rules.filter((r) => r.categories.length === 1 && r.categories[0] === 'process');
    expect(processOnly).toHaveLength(174);
    const dialect: string[] = [];
    for (const entry of processOnly) {
      const query = (parse(readFileSync(join(dir, entry.file), 'utf8')) as { rule: { query: string } }).rule.query;
      let result;
      try {
        result = queryReach(parseQuery(query));
      } catch {
        // Defend's dialect (`descendant of`, single-stage sequences with `until`): not EQL this
        // engine parses yet; their fields are checked by name below.
        dialect.push(entry.file);
        const names = query.match(/\b(?:process|user|group|container|event|host)\.[A-Za-z_.]+[A-Za-z_]/g) ?? [];
        expect(unfilledFields(names), entry.file).toEqual([]);
        continue;
      }
      expect(unfilledFields(result.fields), entry.file).toEqual([]);
    }
    expect(dialect.length).toBeLessThanOrEqual(6);
  });
});
