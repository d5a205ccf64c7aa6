/**
 * Linux capability sets as ECS writes them: `process.thread.capabilities.effective` and
 * `.permitted` are keyword arrays of names such as "CAP_SYS_ADMIN" (ECS process.yml, pattern
 * `^(CAP_[A-Z_]+|\d+)$`); a bit this table does not name is written as its number, as the
 * pattern allows. Names by bit from include/uapi/linux/capability.h.
 */
const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** The highest bit a mask can carry here (masks cross the native boundary as JS numbers). */
const MAX_BIT = 52;

/** Frozen name lists by mask: a host has few distinct capability sets, so events share them. */
const memo = new Map<number, readonly string[]>();
const MEMO_MAX = 1024;

/** Capability names of a mask, lowest bit first; null for an unknown mask (negative). */
export function capabilityNames(mask: number): readonly string[] | null {
  if (!Number.isSafeInteger(mask) || mask < 0) return null;
  const known = memo.get(mask);
  if (known) return known;
  const names: string[] = [];
  let rest = mask;
  for (let bit = 0; bit <= MAX_BIT && rest > 0; bit++) {
    const value = 2 ** bit;
    if (rest % (value * 2) >= value) {
      names.push(CAPABILITY_NAMES[bit] ?? String(bit));
      rest -= value;
    }
  }
  const frozen = Object.freeze(names);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(mask, frozen);
  return frozen;
}

/**
 * Every capability the kernel has (bits 0..lastBit, /proc/sys/kernel/cap_last_cap) is in the set.
 * Docker's and podman's --privileged keep the full bounding set; a default container drops most.
 */
export function hasEveryCapability(mask: number, lastBit: number): boolean {
  if (!Number.isSafeInteger(mask) || mask < 0 || lastBit < 0 || lastBit > MAX_BIT) return false;
  const all = 2 ** (lastBit + 1) - 1;
  return mask % 2 ** (lastBit + 1) === all;
}
