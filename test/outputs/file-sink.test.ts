import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSink } from '../../src/outputs/file-sink.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'execwarden-file-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

describe('FileSink', () => {
  it('creates the directory and a 0600 file, and appends NDJSON', async () => {
    const path = join(dir, 'nested', 'alerts.ndjson');
    const first = new FileSink({ path });
    await first.start();
    first.write({ n: 1 });
    await first.close();
    const second = new FileSink({ path });
    await second.start();
    second.write({ n: 2 });
    await second.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(lines(path)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('writes to a fresh file after the old one is renamed and reopen() is called (logrotate)', async () => {
    const path = join(dir, 'alerts.ndjson');
    const sink = new FileSink({ path });
    await sink.start();
    sink.write({ n: 1 });
    await sink.reopen(); // waits for the queued write first
    renameSync(path, `${path}.1`);
    sink.write({ n: 2 }); // still goes to the renamed file: it is open
    await sink.reopen();
    sink.write({ n: 3 });
    await sink.close();
    expect(lines(`${path}.1`)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(lines(path)).toEqual([{ n: 3 }]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(sink.stats()).toMatchObject({ written: 3, dropped: 0, failures: 0 });
  });

  it('rejects start() with a coded error when the path cannot be written', async () => {
    const blocked = join(dir, 'blocked');
    mkdirSync(blocked);
    chmodSync(blocked, 0o500);
    // root ignores directory permissions; a path under a regular file fails for everyone.
    const underFile = join(dir, 'plain');
    writeFileSync(underFile, '');
    const sink = new FileSink({ path: join(underFile, 'alerts.ndjson') });
    const error = await sink.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUTPUT_START_FAILED', sink: 'file' });
    expect((error as Error).message).toMatch(/ENOTDIR|EEXIST/);
    await sink.close(0);
    if (process.getuid?.() !== 0) {
      await expect(new FileSink({ path: join(blocked, 'alerts.ndjson') }).start()).rejects.toMatchObject({ code: 'OUTPUT_START_FAILED' });
    }
  });

  it('writes hostile strings as one valid JSON line each', async () => {
    const path = join(dir, 'alerts.ndjson');
    const sink = new FileSink({ path });
    await sink.start();
    const hostile = { cmd: 'a\nb\r\n{"fake":1}\u001b[2J\u0000\u007f\u009b\u2028\u2029\ud800 "\\' };
    sink.write(hostile);
    sink.write({ n: 2 });
    await sink.close();
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(lines(path)[0]).toEqual(hostile);
  });
});

describe('systemd/execwarden.logrotate', () => {
  const logrotate = spawnSync('sh', ['-c', 'command -v logrotate'], { encoding: 'utf8' }).stdout.trim();
  // Outside CI a machine without logrotate skips this; in CI (which installs it) it must run.
  it.skipIf(logrotate === '' && process.env.CI !== 'true')('is accepted by logrotate and rotates daily, 14 times, compressed, leaving creation to the agent', () => {
    const file = resolve('systemd/execwarden.logrotate');
    const text = readFileSync(file, 'utf8');
    for (const directive of ['daily', 'rotate 14', 'compress', 'missingok', 'notifempty', 'nocreate', 'postrotate']) {
      expect(text).toContain(directive);
    }
    expect(text).toMatch(/systemctl kill .*HUP.* execwarden\.service/);
    const check = spawnSync(logrotate, ['-d', '-s', join(dir, 'state'), file], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stderr + check.stdout).not.toMatch(/error/i);
  });
});
