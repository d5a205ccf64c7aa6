import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseOutputsConfig } from '../../src/outputs/config.js';
import { createSinks } from '../../src/outputs/create-sinks.js';
import { FileSink } from '../../src/outputs/file-sink.js';
import { SinkFanout } from '../../src/outputs/sink-fanout.js';
import { StdoutSink } from '../../src/outputs/stdout-sink.js';
import { SyslogSink } from '../../src/outputs/syslog-sink.js';
import { WebhookSink } from '../../src/outputs/webhook-sink.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'execwarden-fanout-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('createSinks', () => {
  it('builds one sink per configured output, in a fixed order', async () => {
    const config = parseOutputsConfig({
      webhook: { url: 'http://127.0.0.1:9/' },
      syslog: { transport: 'udp', port: 9 },
      file: { path: join(dir, 'a.ndjson') },
      stdout: { format: 'pretty' },
      queue: { max_documents: 7 },
    });
    const sinks = await createSinks(config, { stdout: new PassThrough(), hostname: 'h' });
    expect(sinks.map((sink) => sink.constructor)).toEqual([StdoutSink, FileSink, SyslogSink, WebhookSink]);
    expect(sinks.map((sink) => sink.name)).toEqual(['stdout', 'file', 'syslog', 'webhook']);
    expect((sinks[0] as StdoutSink).format).toBe('pretty');
  });
});

describe('SinkFanout', () => {
  it('keeps delivering to healthy sinks while a dead webhook drops and counts', async () => {
    const path = join(dir, 'alerts.ndjson');
    const stdout = new PassThrough();
    let stdoutText = '';
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => (stdoutText += chunk));
    const config = parseOutputsConfig({
      stdout: {},
      file: { path },
      webhook: { url: `http://127.0.0.1:${await closedPort()}/`, retries: 5 },
      queue: { max_documents: 5 },
    });
    const fanout = new SinkFanout(await createSinks(config, { stdout }));
    await fanout.start();

    // Written in bursts the healthy sinks can absorb; the dead webhook keeps at most 5.
    for (let burst = 0; burst < 10; burst += 1) {
      for (let i = 0; i < 5; i += 1) fanout.write({ event: { kind: 'alert', id: `${burst}-${i}` } });
      await until('file and stdout to catch up', () => fanout.stats().sinks.slice(0, 2).every((s) => s.queued === 0));
    }
    const [stdoutStats, fileStats, webhookStats] = fanout.stats().sinks;
    expect(stdoutStats).toMatchObject({ written: 50, dropped: 0 });
    expect(fileStats).toMatchObject({ written: 50, dropped: 0 });
    expect(webhookStats.written).toBe(0);
    expect(webhookStats.queued).toBe(5);
    expect(webhookStats.dropped).toBe(45);
    expect(webhookStats.failures).toBeGreaterThan(0);

    await fanout.close(50);
    const totals = fanout.stats();
    expect(totals.sinks[2]).toMatchObject({ queued: 0, written: 0, dropped: 50 });
    expect(totals).toMatchObject({ written: 100, dropped: 50, queued: 0 });
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(50);
    expect(stdoutText.trim().split('\n')).toHaveLength(50);
  });

  it('fails start() when one sink cannot start, and closes the ones that did', async () => {
    const file = new FileSink({ path: join(dir, 'ok.ndjson') });
    const syslog = new SyslogSink({ transport: 'tcp', host: '127.0.0.1', port: await closedPort() });
    const fanout = new SinkFanout([file, syslog]);
    await expect(fanout.start()).rejects.toMatchObject({ code: 'OUTPUT_START_FAILED', sink: 'syslog' });
    file.write({ late: true });
    expect(file.stats()).toMatchObject({ written: 0, dropped: 1 });
  });

  it('reopens every sink and reports the ones that failed', async () => {
    const path = join(dir, 'sub', 'alerts.ndjson');
    const file = new FileSink({ path });
    const fanout = new SinkFanout([file, new StdoutSink({ stream: new PassThrough() })]);
    await fanout.start();
    rmSync(join(dir, 'sub'), { recursive: true });
    // The directory is recreated by reopen (mkdir -p), so this succeeds.
    expect(await fanout.reopen()).toEqual([]);
    fanout.write({ n: 1 });
    await fanout.close();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');
  });
});
