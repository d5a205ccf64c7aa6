import { createHash } from 'node:crypto';
/** Dates as ECS writes them: isoDate must give exactly what Date#toISOString gives. */
import { describe, expect, it } from 'vitest';
import { isoDate } from '../../src/ecs/time-base.js';
import { entityIdFor } from '../../src/process/process-table.js';

describe('isoDate', () => {
  it('equals toISOString, fractions of a millisecond cut, around second, year and range edges', () => {
    const samples = [0, 1, 9, 10, 99, 100, 999, 1000, 1_800_000_000_000, 1_800_000_000_000.9, 1_800_000_000_999, 1_800_000_001_000,
      946_684_799_999, 946_684_800_000, 253_402_300_799_999, 253_402_300_800_000, -1, -1000.5, 8.64e15];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4e12) + Math.random());
    for (const ms of samples) expect(isoDate(ms), String(ms)).toBe(new Date(Math.floor(ms)).toISOString());
  });
});

describe('entityIdFor', () => {
  it('is 24 base64 characters, the same for the same process, different for any other pid, start or host', () => {
    const id = entityIdFor('host-a', 4242, 123_456);
    expect(id).toMatch(/^[A-Za-z0-9+/]{24}$/);
    expect(entityIdFor('host-a', 4242, 123_456)).toBe(id);
    const others = [entityIdFor('host-a', 4243, 123_456), entityIdFor('host-a', 4242, 123_457), entityIdFor('host-b', 4242, 123_456),
      entityIdFor('host-a', 4242, 123_456 + 2 ** 32), entityIdFor('host-a', 4242 + 2 ** 16, 123_456)];
    expect(new Set([id, ...others]).size).toBe(6);
  });

  it('holds the host prefix, the pid and the start ticks, big-endian, in base64', () => {
    const prefix = createHash('sha256').update('host-a').digest().subarray(0, 6);
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 1000; round++) {
      const pid = (next() * 2 + (next() % 2)) >>> 0;
      const ticks = next() * 2 ** 21 + (next() % 2 ** 21);
      const bytes = Buffer.alloc(18);
      prefix.copy(bytes, 0);
      bytes.writeUInt32BE(pid, 6);
      bytes.writeBigUInt64BE(BigInt(ticks), 10);
      expect(entityIdFor('host-a', pid, ticks)).toBe(bytes.toString('base64'));
    }
  });
});
