/**
 * What the live capture needs from the host, checked before subscribing so the CLI can name the
 * missing piece instead of failing vaguely. The proc connector ignores subscriptions from a
 * non-initial pid or user namespace without an error, and before Linux 6.6 it requires
 * CAP_NET_ADMIN; after that CAP_NET_ADMIN only buys the large receive buffer (SO_RCVBUFFORCE).
 * CAP_SYS_PTRACE lets the snapshot read other users' exe and cwd; CAP_SYS_NICE lets the reader
 * thread run SCHED_FIFO, which is what keeps argv of millisecond-lived processes.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

export const CAP_DAC_READ_SEARCH = 2;
export const CAP_KILL = 5;
export const CAP_NET_ADMIN = 12;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_NICE = 23;

export interface PrivilegeFacts {
  /** CapEff from /proc/self/status. */
  effectiveCaps: bigint;
  /** Kernel release, e.g. "6.18.4". */
  kernelRelease: string;
  initialPidNamespace: boolean;
  initialUserNamespace: boolean;
}

export interface PrivilegeCheck {
  /** False when capture cannot work at all; `missing` says why. */
  ok: boolean;
  missing: string[];
  /** Capture works, but with these limits. */
  degraded: string[];
  /** The capabilities among those, by name, with what each is needed for (what `status` shows). */
  capabilities: { name: string; need: 'missing' | 'degraded'; why: string }[];
}

export function hasCap(caps: bigint, cap: number): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

function kernelAtLeast(kernelRelease: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!match) return false;
  const [kMajor, kMinor] = [Number(match[1]), Number(match[2])];
  return kMajor > major || (kMajor === major && kMinor >= minor);
}

export function assessCapturePrivileges(facts: PrivilegeFacts): PrivilegeCheck {
  const missing: string[] = [];
  const degraded: string[] = [];
  if (!facts.initialPidNamespace) {
    missing.push('the initial pid namespace (the proc connector ignores subscriptions from containers)');
  }
  if (!facts.initialUserNamespace) {
    missing.push('the initial user namespace (the proc connector ignores subscriptions from containers)');
  }
  const capabilities: PrivilegeCheck['capabilities'] = [];
  const lacks = (name: string, need: 'missing' | 'degraded', why: string): void => {
    capabilities.push({ name, need, why });
    (need === 'missing' ? missing : degraded).push(`${name} (${why})`);
  };
  const netAdmin = hasCap(facts.effectiveCaps, CAP_NET_ADMIN);
  if (!netAdmin && !kernelAtLeast(facts.kernelRelease, 6, 6)) {
    lacks('CAP_NET_ADMIN', 'missing', 'needed to subscribe to the proc connector before Linux 6.6');
  } else if (!netAdmin) {
    lacks('CAP_NET_ADMIN', 'degraded', 'SO_RCVBUFFORCE: without it the receive buffer is capped by net.core.rmem_max');
  }
  if (!hasCap(facts.effectiveCaps, CAP_SYS_PTRACE)) lacks('CAP_SYS_PTRACE', 'degraded', "reading other users' /proc/<pid>/exe and cwd");
  if (!hasCap(facts.effectiveCaps, CAP_SYS_NICE)) {
    lacks('CAP_SYS_NICE', 'degraded', 'SCHED_FIFO for the reader thread, which keeps argv of short-lived processes');
  }
  return { ok: missing.length === 0, missing, degraded, capabilities };
}

/** Reads the facts for this process from /proc. */
export function readPrivilegeFacts(): PrivilegeFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0';
  // NSpid lists this process's pid in each nested pid namespace: one entry means the initial one.
  const nsPid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  // The initial user namespace maps the whole uid range onto itself.
  const uidMap = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
  return {
    effectiveCaps: BigInt(`0x${capEff}`),
    kernelRelease: release(),
    initialPidNamespace: nsPid.length <= 1,
    initialUserNamespace: uidMap[0] === '0' && uidMap[1] === '0' && uidMap[2] === '4294967295',
  };
}

export function checkCapturePrivileges(): PrivilegeCheck {
  return assessCapturePrivileges(readPrivilegeFacts());
}
