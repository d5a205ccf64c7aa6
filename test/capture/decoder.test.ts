import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/capture/native.js';
import { PROC_EVENT, datagram, int32s } from './datagram.js';

const { decodeForTest } = loadNativeAddon();

describe('proc connector datagram decoder', () => {
  it('decodes a fork with the header fields and both parent and child', () => {
    const bytes = datagram({
      what: PROC_EVENT.fork,
      cpu: 1,
      seq: 42,
      timestampNs: 123456789012345n,
      data: int32s(100, 101, 200, 201),
    });
    const result = decodeForTest(bytes, 0);
    expect(result).toMatchObject({ accepted: 1, rejected: 0 });
    expect(result.events).toEqual([
      { kind: 'fork', cpu: 1, seq: 42, timestampNs: 123456789012345n, pid: 200, tgid: 201, parentPid: 100, parentTgid: 101 },
    ]);
  });

  it('decodes every event kind with its own fields', () => {
    const comm = Buffer.alloc(24);
    int32s(7, 7).copy(comm);
    comm.write('0123456789abcdef', 8, 'latin1'); // 16 bytes, no NUL: the decoder must stop at 16
    const bytes = datagram(
      { what: PROC_EVENT.exec, data: int32s(5, 5) },
      { what: PROC_EVENT.exit, data: int32s(6, 6, 3 << 8, 17, 1, 1) },
      { what: PROC_EVENT.uid, data: int32s(8, 8, 1000, 0) },
      { what: PROC_EVENT.gid, data: int32s(9, 9, 100, 0) },
      { what: PROC_EVENT.sid, data: int32s(10, 10) },
      { what: PROC_EVENT.ptrace, data: int32s(11, 11, 12, 12) },
      { what: PROC_EVENT.comm, data: comm },
      { what: PROC_EVENT.coredump, data: int32s(13, 13, 14, 14) },
    );
    const { events, accepted, rejected } = decodeForTest(bytes, 0);
    expect([accepted, rejected]).toEqual([8, 0]);
    const strip = events.map(({ cpu: _c, seq: _s, timestampNs: _t, ...rest }) => rest);
    expect(strip).toEqual([
      { kind: 'exec', pid: 5, tgid: 5 },
      { kind: 'exit', pid: 6, tgid: 6, parentPid: 1, parentTgid: 1, exitCode: 768, exitSignal: 17 },
      { kind: 'uid', pid: 8, tgid: 8, ruid: 1000, euid: 0 },
      { kind: 'gid', pid: 9, tgid: 9, rgid: 100, egid: 0 },
      { kind: 'sid', pid: 10, tgid: 10 },
      { kind: 'ptrace', pid: 11, tgid: 11, tracerPid: 12, tracerTgid: 12 },
      { kind: 'comm', pid: 7, tgid: 7, comm: '0123456789abcdef' },
      { kind: 'coredump', pid: 13, tgid: 13, parentPid: 14, parentTgid: 14 },
    ]);
  });

  it('reports an ack separately from events', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.none, cpu: 1, seq: 9, ack: 78, data: int32s(0) }), 0);
    expect(result.events).toEqual([]);
    expect(result.acks).toEqual([{ cpu: 1, seq: 9, ack: 78, err: 0 }]);
  });

  it('refuses a datagram whose sender is not the kernel', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.exec, data: int32s(5, 5) }), 4242);
    expect(result).toEqual({ events: [], acks: [], accepted: 0, rejected: 1 });
  });

  it('refuses an nlmsg_len that runs past the datagram', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.exec, data: int32s(5, 5), nlmsgLen: 500 }), 0);
    expect(result).toMatchObject({ events: [], accepted: 0, rejected: 1 });
  });

  it('refuses an nlmsg_len shorter than the netlink header', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.exec, data: int32s(5, 5), nlmsgLen: 8 }), 0);
    expect(result).toMatchObject({ events: [], accepted: 0, rejected: 1 });
  });

  it('refuses a cn_msg.len larger than the netlink payload', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.exec, data: int32s(5, 5), cnLen: 200 }), 0);
    expect(result).toMatchObject({ events: [], accepted: 0, rejected: 1 });
  });

  it('refuses a payload too short for its kind', () => {
    // A fork needs 16 bytes of event data; 8 is what an exec carries.
    const result = decodeForTest(datagram({ what: PROC_EVENT.fork, data: int32s(1, 1, 2, 2), payloadBytes: 8 }), 0);
    expect(result).toMatchObject({ events: [], accepted: 0, rejected: 1 });
  });

  it('refuses another connector id and unknown event kinds', () => {
    const result = decodeForTest(
      datagram(
        { what: PROC_EVENT.exec, data: int32s(5, 5), idx: 2 },
        { what: 0x400, data: int32s(5, 5) },
        { what: PROC_EVENT.exec, data: int32s(6, 6) },
      ),
      0,
    );
    expect(result).toMatchObject({ accepted: 1, rejected: 2 });
    expect(result.events.map((e) => e.pid)).toEqual([6]);
  });

  it('stops at the datagram end when its last message has an unaligned length', () => {
    // An 18-byte datagram whose only message is a NOOP of nlmsg_len 17: aligning 17 to 20 steps past
    // the end. The bytes after it belong to the same memory but not to the datagram, so a valid
    // exec placed there must not be decoded.
    const memory = Buffer.alloc(20 + 64);
    memory.writeUInt32LE(17, 0); // nlmsg_len
    memory.writeUInt16LE(1, 4); // NLMSG_NOOP
    datagram({ what: PROC_EVENT.exec, data: int32s(5, 5) }).copy(memory, 20);
    const result = decodeForTest(memory.subarray(0, 18), 0);
    expect(result).toEqual({ events: [], acks: [], accepted: 0, rejected: 0 });
  });

  it('keeps older kernels\' exit events without a parent as parent 0', () => {
    const result = decodeForTest(datagram({ what: PROC_EVENT.exit, data: int32s(6, 6, 0, 17), payloadBytes: 16 }), 0);
    expect(result.events).toMatchObject([{ kind: 'exit', pid: 6, exitCode: 0, exitSignal: 17, parentPid: 0 }]);
  });
});
