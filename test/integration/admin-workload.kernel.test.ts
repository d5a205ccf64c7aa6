/**
 * An ordinary admin and developer workload as root, captured live once and judged twice: by the
 * default rules execwarden ships, and by every rule of Elastic's corpus (detection rules and
 * Defend's behavior rules) that reads real or effective ids. Neither may fire.
 *
 * The workload is package queries, archives, a compiler and make, a venv, key generation, git,
 * nohup and setsid jobs, an HTTP server on loopback with curl and a port check against it, and
 * the interpreters the reverse-shell rules watch (Python, PHP, Ruby, Perl, Lua, Node, gawk, zsh,
 * BusyBox) doing ordinary things, some of them close to what the rules look for: a socket used
 * only for a host name, shell_exec without a socket, awk picking `inet` lines, a named pipe used
 * for a local hand-off. A tool that is not installed is skipped by the script itself (`have`);
 * CI installs them all.
 *
 * Written "only when it differs", a missing real_user.id made Elastic's SUID/SGID rule fire 50
 * times on such a workload (`!=` on a missing field is true), which is why the id rules are here.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileQuery, type EqlEvent } from '../../src/eql/index.js';
import { bundledRulesDir, formatDiagnostic, loadRules, RuleSet } from '../../src/rules/index.js';
import { CORPUS_DIR, describeWithCorpus } from '../support/corpus.js';
import { freePort } from '../support/helpers.js';
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

function commandLine(event: EqlEvent): string {
  return String((event as { process?: { command_line?: unknown } }).process?.command_line);
}

/** The workload, a bash script run in `work`; `port` is free on loopback. */
function workload(work: string, port: number): string {
  return [
    'have() { command -v "$1" >/dev/null 2>&1; }',
    `cd ${work}`,
    // packages
    'have dpkg && { dpkg -l >/dev/null; dpkg -s bash >/dev/null; }',
    'have apt-cache && apt-cache policy bash >/dev/null',
    'id >/dev/null; ps -e >/dev/null; uname -a >/dev/null',
    // archives
    'tar czf etc.tgz -C /etc hostname os-release && tar xzf etc.tgz && gzip -dc etc.tgz | wc -c >/dev/null',
    'have xz && tar cJf etc.txz hostname os-release',
    'have zip && have unzip && zip -q etc.zip hostname os-release && unzip -oq etc.zip -d unzipped',
    // a build
    "printf 'int main(void){return 0;}\\n' > t.c",
    "printf 'all: t\\nt: t.c\\n\\tgcc -O2 -o t t.c\\n' > Makefile",
    'have gcc && have make && make -s && ./t',
    // a venv and Node tooling
    'have python3 && python3 -m venv --without-pip venv && venv/bin/python -c "import sys; print(sys.prefix)" >/dev/null',
    "have node && node -e '0' && have npm && npm --version >/dev/null",
    // keys and certificates
    "have ssh-keygen && ssh-keygen -q -t ed25519 -N '' -f key && ssh-keygen -l -f key.pub >/dev/null",
    'have openssl && openssl genpkey -algorithm ed25519 -out k.pem 2>/dev/null && openssl req -new -x509 -key k.pem -subj /CN=workload -days 1 -out c.pem 2>/dev/null',
    'have ssh && ssh -V 2>/dev/null',
    // git
    'have git && git init -q repo && (cd repo && git config user.email dev@example.com && git config user.name dev && echo x > f && git add f && git commit -qm init && git log --oneline >/dev/null && git status --short >/dev/null)',
    // background jobs
    'nohup sleep 0.2 >/dev/null 2>&1 &',
    'setsid sleep 0.2 &',
    "printf '#!/bin/sh\\necho built\\n' > build.sh && chmod +x build.sh && nohup ./build.sh >/dev/null 2>&1 &",
    "setsid sh -c 'sleep 0.1; true' &",
    // an HTTP server on loopback, curl and port checks against it
    `have python3 && { python3 -m http.server --bind 127.0.0.1 ${port} >/dev/null 2>&1 & srv=$!; }`,
    `for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null http://127.0.0.1:${port}/ && break; sleep 0.3; done`,
    `have nc && nc -z 127.0.0.1 ${port}`,
    `have ncat && ncat --version >/dev/null 2>&1`,
    `have socat && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | socat - TCP:127.0.0.1:${port} >/dev/null`,
    `have perl && perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(PeerAddr => "127.0.0.1:${port}") ? "up\\n" : "down\\n"' >/dev/null`,
    `have php && php -r '$s=@fsockopen("127.0.0.1",${port},$e,$m,2); echo $s ? "up" : "down", PHP_EOL;' >/dev/null`,
    'kill "${srv:-0}" 2>/dev/null',
    // interpreters doing ordinary things
    "have python3 && python3 -c 'import socket; print(socket.gethostname())' >/dev/null",
    "have python3 && python3 -c 'import platform, subprocess; print(platform.system()); subprocess.run([\"true\"])' >/dev/null",
    "have php && php -r 'echo gethostname(), PHP_EOL;' >/dev/null && php -r 'echo shell_exec(\"id -u\");' >/dev/null",
    "have ruby && ruby -e 'puts [1, 2, 3].sum' >/dev/null && ruby -rsocket -e 'puts Socket.gethostname' >/dev/null",
    "have perl && perl -e 'print scalar(localtime), \"\\n\"' >/dev/null && perl -ne 'print if /^root:/' /etc/passwd >/dev/null",
    "have lua && lua -e 'print(os.date())' >/dev/null && lua -e 'local ok, s = pcall(require, \"socket\"); print(ok and s._VERSION or \"none\")' >/dev/null",
    "have node && node -e 'console.log(require(\"os\").hostname())' >/dev/null && node -e 'require(\"child_process\").execSync(\"true\")'",
    "have gawk && gawk 'BEGIN { print 6 * 7 }' >/dev/null && gawk -F: '$3 == 0 { print $1 }' /etc/passwd >/dev/null",
    "have ip && ip -4 addr | awk '/inet / { print $2 }' >/dev/null",
    "have zsh && zsh -c 'zmodload zsh/datetime; print $EPOCHSECONDS; echo $ZSH_VERSION' >/dev/null",
    "have busybox && busybox ls / >/dev/null && busybox awk 'BEGIN { print 1 }' >/dev/null",
    "have tclsh && echo 'puts [info hostname]' | tclsh >/dev/null",
    // a named pipe for a local hand-off, in its own helper as a script would have it
    "sh -c 'mkfifo handoff && { cat handoff > handoff.out & echo data > handoff; wait; }'",
    'sh -c "ls -la >/dev/null; cat /etc/hostname >/dev/null"',
    'wait; true',
  ].join('\n');
}

describeAsRoot('an ordinary admin and developer workload, live', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'execwarden-admin-'));
  let run: Awaited<ReturnType<typeof capture>>;

  beforeAll(async () => {
    // Run as a script file, the way such work is run: its lines are judged as the commands they
    // start, not as one command line of the test runner's shell.
    const script = path.join(work, 'workload.sh');
    writeFileSync(script, workload(work, await freePort()));
    run = await capture(`bash ${script}`, 500);
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs the whole workload', () => {
    expect(run.execs.length).toBeGreaterThan(60);
    // The last steps ran: the interpreters and the named pipe are part of what was judged.
    expect(run.execs.some((doc) => doc.process.name === 'mkfifo')).toBe(true);
  });

  it('raises no alert from the bundled default rules', async () => {
    const loaded = await loadRules([bundledRulesDir()]);
    expect(loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    const set = new RuleSet(loaded.rules);
    const fired: string[] = [];
    for (const doc of run.docs) {
      for (const match of set.evaluate(doc as unknown as EqlEvent)) {
        fired.push(`${match.rule.name}: ${match.events.map(commandLine).join(' -> ')}`);
      }
    }
    expect(fired).toEqual([]);
    expect(set.stats().events).toBe(run.docs.length);
  });

  describeWithCorpus('against the id rules of the corpus', () => {
    it('raises no SUID/SGID alert', () => {
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
          for (const doc of run.docs) if (query.matches(doc as unknown as EqlEvent)) fired.push(`${rule.file}: ${doc.process.command_line}`);
        } else {
          const matcher = query.createMatcher();
          for (const doc of run.docs) {
            for (const match of matcher.push(doc as unknown as EqlEvent)) fired.push(`${rule.file}: ${match.events.length}-event sequence`);
          }
        }
      }
      expect(compiled).toBeGreaterThanOrEqual(rules.length - 2);
      expect(fired).toEqual([]);
    });
  });
});
