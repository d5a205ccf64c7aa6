/** Builds proc-connector datagrams byte by byte, as the kernel lays them out, for decoder tests. */

export const NLMSG_DONE = 3;
export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;

export const PROC_EVENT = {
  none: 0x0,
  fork: 0x1,
  exec: 0x2,
  uid: 0x4,
  gid: 0x40,
  sid: 0x80,
  ptrace: 0x100,
  comm: 0x200,
  coredump: 0x40000000,
  exit: 0x80000000,
} as const;

export interface CraftedEvent {
  what: number;
  cpu?: number;
  seq?: number;
  ack?: number;
  timestampNs?: bigint;
  /** The per-kind union, at most 24 bytes (zero-padded to 24 unless `payloadBytes` says less). */
  data: Buffer;
  /** Overrides cn_msg.len (the proc_event size the kernel would send is 40). */
  cnLen?: number;
  /** Overrides nlmsghdr.nlmsg_len. */
  nlmsgLen?: number;
  /** Truncates the proc_event body to this many bytes after the 16-byte header. */
  payloadBytes?: number;
  idx?: number;
  val?: number;
}

export function int32s(...values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => buffer.writeInt32LE(value | 0, i * 4));
  return buffer;
}

export function message(event: CraftedEvent): Buffer {
  const body = Buffer.alloc(16 + 24);
  body.writeUInt32LE(event.what >>> 0, 0);
  body.writeUInt32LE(event.cpu ?? 0, 4);
  body.writeBigUInt64LE(event.timestampNs ?? 0n, 8);
  event.data.copy(body, 16, 0, Math.min(event.data.length, 24));
  const proc = body.subarray(0, 16 + (event.payloadBytes ?? 24));

  const cn = Buffer.alloc(20);
  cn.writeUInt32LE(event.idx ?? CN_IDX_PROC, 0);
  cn.writeUInt32LE(event.val ?? CN_VAL_PROC, 4);
  cn.writeUInt32LE(event.seq ?? 0, 8);
  cn.writeUInt32LE(event.ack ?? 0, 12);
  cn.writeUInt16LE(event.cnLen ?? proc.length, 16);

  const nlh = Buffer.alloc(16);
  const length = 16 + cn.length + proc.length;
  nlh.writeUInt32LE(event.nlmsgLen ?? length, 0);
  nlh.writeUInt16LE(NLMSG_DONE, 4);
  const unpadded = Buffer.concat([nlh, cn, proc]);
  const padded = Buffer.alloc((unpadded.length + 3) & ~3);
  unpadded.copy(padded);
  return padded;
}

export function datagram(...events: CraftedEvent[]): Buffer {
  return Buffer.concat(events.map(message));
}
