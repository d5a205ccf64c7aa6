/**
 * An ordinary admin and developer workload as root (archives, a compiler, a venv, node and npm,
 * ssh-keygen, package queries, nohup and setsid jobs) captured live and run through every rule of
 * Elastic's corpus (detection rules and Defend's behavior rules) that reads real or effective ids:
 * none may fire. Written "only when it differs", a missing real_user.id made Elastic's SUID/SGID
 * rule fire 50 times on such a workload (`!=` on a missing field is true).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, expect, it } from 'vitest';
import { compileQuery, type EqlEvent } from '../../src/eql/index.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';
import { capture } from '../support/live-capture.js';
import { describeAsRoot } from '../support/require-root.js';

const ID_FIELDS = /\b(?:real_user|real_group|saved_user|saved_group|Ext\.real|effective)\b/;

interface IdRule {
  file: string;
  query: string;
}

function idRules(): IdRule[] {
  const rules: IdRule[] = [];
  for (const folder of ['elastic-linux-process', 'elastic-linux-sequence', 'elastic-defend-linux']) {
    const dir = path.join(CORPUS_DIR, folder);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.toml'))) {
      const doc = parse(readFileSync(path.join(dir, file), 'utf8')) as { rule?: { query?: string } };
      const query = doc.rule?.query;
      if (typeof query === 'string' && ID_FIELDS.test(query)) rules.push({ file: `${folder}/${file}`, query });
    }
  }
  return rules;
}

describeWithCorpus('an admin workload against the id rules of the corpus', () => {
  describeAsRoot('live', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'execwarden-admin-'));
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('raises no SUID/SGID alert', async () => {
      const script = [
        `cd ${work}`,
        'tar czf etc.tgz -C /etc hostname os-release && tar xzf etc.tgz && gzip -dc etc.tgz | wc -c >/dev/null',
        "printf 'int main(void){return 0;}\\n' > t.c && gcc -O2 -o t t.c && ./t",
        'command -v python3 >/dev/null && python3 -m venv --without-pip venv && venv/bin/python -c "import sys"',
        "node -e '0' && npm --version >/dev/null",
        "command -v ssh-keygen >/dev/null && ssh-keygen -q -t ed25519 -N '' -f key",
        'dpkg -s bash >/dev/null; apt-cache policy bash >/dev/null; id >/dev/null; ps -e >/dev/null',
        'nohup sleep 0.1 >/dev/null 2>&1 &',
        'setsid sleep 0.1 &',
        'sh -c "ls -la >/dev/null; cat /etc/hostname >/dev/null"',
        'wait; true',
      ].join('\n');
      const { docs, execs } = await capture(script, 300);
      expect(execs.length).toBeGreaterThan(15);
      const rules = idRules();
      expect(rules.length).toBeGreaterThan(5);
      const fired: string[] = [];
      let compiled = 0;
      for (const rule of rules) {
        let query;
        try {
          query = compileQuery(rule.query);
        } catch {
          continue; // Defend's dialect; its rules are counted below
        }
        compiled++;
        if (query.kind === 'event') {
          for (const doc of docs) if (query.matches(doc as unknown as EqlEvent)) fired.push(`${rule.file}: ${doc.process.command_line}`);
        } else {
          const matcher = query.createMatcher();
          for (const doc of docs) {
            for (const match of matcher.push(doc as unknown as EqlEvent)) fired.push(`${rule.file}: ${match.events.length}-event sequence`);
          }
        }
      }
      expect(compiled).toBeGreaterThanOrEqual(rules.length - 2);
      expect(fired).toEqual([]);
    });
  });
});
