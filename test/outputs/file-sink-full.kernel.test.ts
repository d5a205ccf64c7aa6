/**
 * The file output on a disk that fills up mid-record (a 64 KiB tmpfs the test mounts): a record
 * is written whole or not at all, and once space returns the next records land on lines of their
 * own. Needs root for the mount.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileSink } from '../../src/outputs/file-sink.js';
import { describeAsRoot } from '../support/require-root.js';
import { waitFor } from '../support/wait.js';

describeAsRoot('file output on a full disk', () => {
  let dir: string;
  let disk: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'execwarden-fullfile-'));
    disk = join(dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
  });

  afterAll(() => {
    try {
        execFileSync('umount', [disk]);
      } catch {
        // not mounted
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('never leaves a torn record, and appends whole records once space returns', async () => {
      const path = join(disk, 'alerts.ndjson');
      const sink = new FileSink({ path, retry: { retries: 50, baseDelayMs: 20, maxDelayMs: 50 } });
      await sink.start();
    try {
      // Leave one page free, less than two records need.
      const page = statfsSync(disk).bsize;
      const filler = join(disk, 'filler');
      writeFileSync(filler, Buffer.alloc(statfsSync(disk).bavail * page - page));
      const record = (n: number) => ({ n, padding: 'p'.repeat(Math.floor(page * 0.7)) });
      sink.write(record(1));
      sink.write(record(2));
      sink.write(record(3));
      await waitFor('the first record', () => sink.stats().written >= 1 && sink.stats().failures >= 1, 5000);
      // The disk is full in the middle of the second record: the file holds whole lines only.
      const lines = (): string[] => readFileSync(path, 'utf8').split('\n');
      expect(lines().at(-1)).toBe('');
      expect(lines().slice(0, -1).map((line) => (JSON.parse(line) as { n: number }).n)).toEqual([1]);
      unlinkSync(filler);
      await waitFor('every record', () => sink.stats().written === 3, 5000);
      expect(lines().slice(0, -1).map((line) => (JSON.parse(line) as { n: number }).n)).toEqual([1, 2, 3]);
      expect(sink.stats()).toMatchObject({ written: 3, dropped: 0 });
    } finally {
      // The open file would keep the disk busy at unmount.
      await sink.close(1000);
    }
  });
});
