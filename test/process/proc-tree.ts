/**
 * Builds /proc-shaped directory trees for FixtureProcFs: one directory per pid with cmdline,
 * comm, stat, status, exe, cwd and cgroup. exe and cwd are regular files holding the target.
 */
import { mkdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export interface FixtureProcess {
  pid: number;
  ppid: number;
  comm: string;
  /** Arguments (joined with NUL, trailing NUL added) or raw cmdline bytes. */
  argv: string[] | Buffer;
  exe?: string | null;
  cwd?: string;
  pgid?: number;
  sid?: number;
  ttyNr?: number;
  startTicks: number;
  /** real, effective and (optionally) saved; saved defaults to effective. */
  uid?: [number, number] | [number, number, number];
  gid?: [number, number] | [number, number, number];
  /** CapPrm/CapEff/CapBnd masks; absent lines when not given. */
  caps?: { permitted: number; effective: number; bounding: number };
  /** Whole /proc/<pid>/cgroup text. Default: a v2 user session path. */
  cgroup?: string;
  /** environ entries ("NAME=value"); no environ file when absent. */
  environ?: string[] | Buffer;
  /** stat state letter. Default S. */
  state?: string;
}

export const FIXTURE_BOOT_SECONDS = 1_700_000_000;

export function makeProcTree(prefix = 'execwarden-proc-'): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(root, 'stat'), `cpu  1 2 3 4\nbtime ${FIXTURE_BOOT_SECONDS}\nprocesses 42\n`);
  return root;
}

export function statLine(p: FixtureProcess): string {
  const fields = [
    p.state ?? 'S', p.ppid, p.pgid ?? p.pid, p.sid ?? p.pid, p.ttyNr ?? 0, -1, 4194560,
    0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, p.startTicks, 1_000_000, 100,
  ];
  return `${p.pid} (${p.comm}) ${fields.join(' ')} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

export function writeProcess(root: string, p: FixtureProcess): void {
  const dir = join(root, String(p.pid));
  mkdirSync(dir, { recursive: true });
  const cmdline = Buffer.isBuffer(p.argv) ? p.argv : Buffer.from(p.argv.map((a) => `${a}\0`).join(''));
  writeFileSync(join(dir, 'cmdline'), cmdline);
  writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
  writeFileSync(join(dir, 'stat'), statLine(p));
  const [ruid, euid, suid = euid] = p.uid ?? [0, 0];
  const [rgid, egid, sgid = egid] = p.gid ?? [0, 0];
  const hex = (mask: number): string => mask.toString(16).padStart(16, '0');
  const caps = p.caps
    ? `CapInh:\t${hex(0)}\nCapPrm:\t${hex(p.caps.permitted)}\nCapEff:\t${hex(p.caps.effective)}\nCapBnd:\t${hex(p.caps.bounding)}\n`
    : '';
  writeFileSync(
    join(dir, 'status'),
    `Name:\t${p.comm}\nPid:\t${p.pid}\nPPid:\t${p.ppid}\nUid:\t${ruid}\t${euid}\t${suid}\t${euid}\nGid:\t${rgid}\t${egid}\t${sgid}\t${egid}\n${caps}`,
  );
  if (p.environ !== undefined) {
    writeFileSync(join(dir, 'environ'), Buffer.isBuffer(p.environ) ? p.environ : Buffer.from(p.environ.map((e) => `${e}\0`).join('')));
  }
  if (p.exe !== null) writeFileSync(join(dir, 'exe'), p.exe ?? `/usr/bin/${p.comm}`);
  writeFileSync(join(dir, 'cwd'), p.cwd ?? '/');
  writeFileSync(join(dir, 'cgroup'), p.cgroup ?? '0::/user.slice/session-1.scope\n');
}

export function removeProcess(root: string, pid: number): void {
  rmSync(join(root, String(pid)), { recursive: true, force: true });
}

export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
