import { describe, expect, it } from 'vitest';
import {
  CAP_NET_ADMIN,
  CAP_SYS_NICE,
  CAP_SYS_PTRACE,
  assessCapturePrivileges,
} from '../../src/capture/privileges.js';

const caps = (...bits: number[]) => bits.reduce((all, bit) => all | (1n << BigInt(bit)), 0n);
const host = { kernelRelease: '6.18.4', initialPidNamespace: true, initialUserNamespace: true };

describe('capture privileges', () => {
  it('is complete with CAP_NET_ADMIN, CAP_SYS_PTRACE and CAP_SYS_NICE in the initial namespaces', () => {
    expect(assessCapturePrivileges({ ...host, effectiveCaps: caps(CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_NICE) })).toEqual({
      ok: true,
      missing: [],
      degraded: [],
      capabilities: [],
    });
  });

  it('needs CAP_NET_ADMIN to subscribe before Linux 6.6, and only for the buffer after', () => {
    const old = assessCapturePrivileges({ ...host, kernelRelease: '6.5.0', effectiveCaps: caps(CAP_SYS_PTRACE, CAP_SYS_NICE) });
    expect(old.ok).toBe(false);
    expect(old.missing).toEqual([expect.stringContaining('CAP_NET_ADMIN')]);
    const recent = assessCapturePrivileges({ ...host, effectiveCaps: caps(CAP_SYS_PTRACE, CAP_SYS_NICE) });
    expect(recent.ok).toBe(true);
    expect(recent.degraded).toEqual([expect.stringContaining('SO_RCVBUFFORCE')]);
    expect(recent.capabilities).toEqual([{ name: 'CAP_NET_ADMIN', need: 'degraded', why: expect.stringContaining('SO_RCVBUFFORCE') }]);
  });

  it('names the namespace when running inside a container', () => {
    const result = assessCapturePrivileges({
      ...host,
      initialPidNamespace: false,
      effectiveCaps: caps(CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_NICE),
    });
    expect(result.ok).toBe(false);
    expect(result.missing).toEqual([expect.stringContaining('initial pid namespace')]);
  });

  it('lists CAP_SYS_PTRACE and CAP_SYS_NICE as limits, not blockers', () => {
    const result = assessCapturePrivileges({ ...host, effectiveCaps: caps(CAP_NET_ADMIN) });
    expect(result.ok).toBe(true);
    expect(result.degraded).toEqual([expect.stringContaining('CAP_SYS_PTRACE'), expect.stringContaining('CAP_SYS_NICE')]);
  });
});
