/**
 * The native pidfd kill on real processes of this test's own: it signals a process only while
 * its pid still holds the start time it was given, and never a kernel thread.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/capture/native.js';

const addon = loadNativeAddon();

function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

const PF_KTHREAD = 0x00200000;

/** A kernel thread of this pid namespace (flags, stat field 9), if any is visible. */
function kernelThread(): number | null {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
      if ((flags & PF_KTHREAD) !== 0) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
    else child.once('exit', (_code, signal) => resolve(signal));
  });
}

describe('native kill through a pidfd', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  const sleeper = (): ChildProcess => {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  it('kills the process that started at the given time', async () => {
    const child = sleeper();
    const pid = child.pid!;
    expect(addon.killProcess(pid, startTicks(pid))).toEqual({ outcome: 'killed', errno: 0 });
    expect(await exited(child)).toBe('SIGKILL');
  });

  it('leaves a process with another start time alone: its pid was handed on', async () => {
    const child = sleeper();
    const pid = child.pid!;
    expect(addon.killProcess(pid, startTicks(pid) - 1)).toEqual({ outcome: 'pid_reused', errno: 0 });
    expect(addon.killProcess(pid, startTicks(pid) + 1).outcome).toBe('pid_reused');
    expect(child.exitCode).toBeNull();
    expect(() => process.kill(pid, 0)).not.toThrow();
  });

  it('says gone for a process that has exited', async () => {
    const child = spawn('true', { stdio: 'ignore' });
    const pid = child.pid!;
    await exited(child);
    expect(addon.killProcess(pid, 1).outcome).toBe('gone');
  });

  it('never signals a kernel thread, and takes no pid below 2 or odd numbers', () => {
    // Signals to kernel threads are ignored by the kernel anyway; the check refuses first. Only a
    // thread the kernel flags as one is tried (a container's pid 2 may be anything).
    const kthread = kernelThread();
    if (kthread !== null) expect(addon.killProcess(kthread, startTicks(kthread)).outcome).toBe('kernel_thread');
    else console.warn('native kill: no kernel thread visible in this pid namespace; the kernel-thread refusal is not tried');
    expect(() => addon.killProcess(1, 0)).toThrow(/pid must be an integer from 2/);
    expect(() => addon.killProcess(0, 0)).toThrow(RangeError);
    expect(() => addon.killProcess(300.5, 0)).toThrow(RangeError);
    expect(() => addon.killProcess(300, -1)).toThrow(/startTicks/);
  });
});
