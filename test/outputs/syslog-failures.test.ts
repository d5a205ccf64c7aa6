/**
 * Delivery failures the syslog transports can see must count as failures, not writes: a closed
 * UDP port (the kernel turns the ICMP refusal into ECONNREFUSED on the connected socket), stream
 * receivers that drop the connection, a unix datagram socket with no daemon behind it. Loopback
 * only; every socket and server is closed by the test that opened it.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/outputs/errors.js';
import type { SinkStats } from '../../src/outputs/sink.js';
import { SyslogSink, type SyslogSinkOptions } from '../../src/outputs/syslog-sink.js';
import { LoggerDatagramTransport } from '../../src/outputs/syslog-transports.js';
import { waitFor } from '../support/wait.js';
import { RsyslogDaemon, rsyslogUnavailable } from './rsyslog-daemon.js';
import { inCi } from '../support/require-tools.js';

const NO_RETRY = { retries: 0, baseDelayMs: 1, maxDelayMs: 1 };

function alert(marker: string): Record<string, unknown> {
  return { event: { kind: 'alert', id: marker, severity: 'high' }, rule: { name: 'Reverse Shell' }, process: { pid: 4242, name: 'bash' } };
}

/** A sink whose failures are also collected as text. */
function failingSink(options: SyslogSinkOptions): { sink: SyslogSink; errors: string[] } {
  const errors: string[] = [];
  const sink = new SyslogSink({ facility: 'local3', hostname: 'sensor-01', ...options, onError: (_sink, error) => errors.push(describeError(error)) });
  return { sink, errors };
}

/** Waits until every document written so far has been sent or dropped. */
async function settled(sink: SyslogSink, documents: number): Promise<SinkStats> {
  return waitFor(
    `${documents} documents settled`,
    () => {
      const stats = sink.stats();
      return stats.queued === 0 && stats.written + stats.dropped === documents ? stats : undefined;
    },
    10_000,
    () => JSON.stringify(sink.stats()),
  );
}

/** A loopback UDP port nothing listens on (bound, noted, closed). */
async function closedUdpPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Closes the server and the connections it accepted. */
async function closeServer(server: net.Server, connections: readonly net.Socket[] = []): Promise<void> {
  for (const connection of connections) connection.destroy();
  if (!server.listening) return;
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Splits RFC 6587 octet-counted frames; returns the complete messages and the unparsed rest. */
function splitFrames(buffer: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let offset = 0;
  for (;;) {
    const space = buffer.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number(buffer.subarray(offset, space).toString('latin1'));
    if (buffer.length < space + 1 + length) break;
    messages.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
    offset = space + 1 + length;
  }
  return { messages, rest: buffer.subarray(offset) };
}

/** A stream receiver that keeps every connection (in `connections`) and collects the messages framed on it. */
function collectingServer(received: string[], connections: net.Socket[]): net.Server {
  return net.createServer((connection) => {
    connections.push(connection);
    let pending: Buffer = Buffer.alloc(0);
    connection.on('data', (chunk: Buffer) => {
      const { messages, rest } = splitFrames(Buffer.concat([pending, chunk]));
      received.push(...messages);
      pending = rest;
    });
    connection.on('error', () => undefined);
  });
}

const markerOf = (message: string): string => (JSON.parse(message.slice(message.indexOf(' - ') + 3)) as { event: { id: string } }).event.id;

describe('SyslogSink over UDP to a closed loopback port', () => {
  it('counts every refused datagram as failed and dropped, then delivers once a listener binds the port', async () => {
    const port = await closedUdpPort();
    const { sink, errors } = failingSink({ transport: 'udp', host: '127.0.0.1', port, retry: NO_RETRY });
    const listener = dgram.createSocket('udp4');
    const received: string[] = [];
    listener.on('message', (message) => received.push(message.toString('utf8')));
    try {
      await sink.start();
      for (let i = 0; i < 5; i += 1) sink.write(alert(`refused-${i}`));
      // On loopback the ICMP refusal is queued on the socket before sendmsg() returns, so each
      // datagram fails through the socket's 'error' event while its send waits for the next poll;
      // each retry-less attempt then starts on a fresh socket.
      expect(await settled(sink, 5)).toMatchObject({ written: 0, failures: 5, dropped: 5, queued: 0 });
      expect(errors).toEqual(Array(5).fill(`udp 127.0.0.1:${port}: recvmsg ECONNREFUSED`));

      await new Promise<void>((resolve) => listener.bind(port, '127.0.0.1', resolve));
      for (let i = 0; i < 3; i += 1) sink.write(alert(`delivered-${i}`));
      expect(await settled(sink, 8)).toMatchObject({ written: 3, failures: 5, dropped: 5 });
      await waitFor('3 datagrams at the listener', () => received.length >= 3, 5_000);
      expect(received.map(markerOf)).toEqual(['delivered-0', 'delivered-1', 'delivered-2']);
    } finally {
      await sink.close(1_000);
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});

describe.each(['tcp', 'unix-stream'] as const)('SyslogSink over %s', (transport) => {
  /** The sink options and listen arguments for one endpoint, a fresh one per test. */
  function endpoint(): { options: SyslogSinkOptions; listen: (server: net.Server) => Promise<void>; cleanup: () => void } {
    if (transport === 'tcp') {
      let port = 0;
      const options: SyslogSinkOptions = { transport, host: '127.0.0.1', port: 0, retry: NO_RETRY };
      return {
        options,
        listen: async (server) => {
          await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
          port = (server.address() as net.AddressInfo).port;
          options.port = port;
        },
        cleanup: () => undefined,
      };
    }
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-syslog-'));
    const path = join(dir, 'stream.sock');
    return {
      options: { transport, path, retry: NO_RETRY },
      listen: (server) => new Promise<void>((resolve) => server.listen(path, resolve)),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  }

  it('counts frames sent to a receiver that drops every connection as failed, then delivers to a new receiver', async () => {
    const { options, listen, cleanup } = endpoint();
    const dropper = net.createServer((connection) => connection.destroy());
    const received: string[] = [];
    const connections: net.Socket[] = [];
    const collector = collectingServer(received, connections);
    let sink: SyslogSink | null = null;
    let errors: string[] = [];
    try {
      await listen(dropper);
      ({ sink, errors } = failingSink(options));
      await sink.start();
      for (let i = 0; i < 5; i += 1) sink.write(alert(`dropped-${i}`));
      // Each connection is accepted and closed at once; the FIN (or reset) reaches the sink
      // before its send settles, so no frame counts as written.
      expect(await settled(sink, 5)).toMatchObject({ written: 0, failures: 5, dropped: 5 });
      expect(errors).toHaveLength(5);
      for (const error of errors) expect(error).toMatch(/closed the connection|EPIPE|ECONNRESET/);

      await closeServer(dropper);
      await listen(collector);
      for (let i = 0; i < 3; i += 1) sink.write(alert(`delivered-${i}`));
      expect(await settled(sink, 8)).toMatchObject({ written: 3, failures: 5, dropped: 5 });
      await waitFor('3 frames at the new receiver', () => received.length >= 3, 5_000);
      expect(received.map(markerOf)).toEqual(['delivered-0', 'delivered-1', 'delivered-2']);
    } finally {
      await sink?.close(1_000);
      await closeServer(dropper);
      await closeServer(collector, connections);
      cleanup();
    }
  });

  it('fails the send after the receiver closed an idle connection, and retries it over a new one', async () => {
    const { options, listen, cleanup } = endpoint();
    const received: string[] = [];
    const connections: net.Socket[] = [];
    const server = collectingServer(received, connections);
    let sink: SyslogSink | null = null;
    let errors: string[] = [];
    try {
      await listen(server);
      ({ sink, errors } = failingSink({ ...options, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 1 } }));
      await sink.start();
      sink.write(alert('first'));
      await waitFor('the first frame', () => received.length === 1, 5_000);
      for (const connection of connections) connection.destroy();
      await waitFor('the connection to close', () => connections.every((connection) => connection.closed), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));

      sink.write(alert('second'));
      expect(await settled(sink, 2)).toMatchObject({ written: 2, failures: 1, dropped: 0 });
      expect(errors).toEqual([expect.stringMatching(/closed the connection|ECONNRESET/)]);
      await waitFor('the second frame', () => received.length === 2, 5_000);
      expect(received.map(markerOf)).toEqual(['first', 'second']);
      expect(connections).toHaveLength(2);
    } finally {
      await sink?.close(1_000);
      await closeServer(server, connections);
      cleanup();
    }
  });
});

const loggerMissing = spawnSync('logger', ['--version']).status !== 0;

// .ci/run installs util-linux's logger: in CI it may not be missing.
if (loggerMissing && inCi) it('has logger to test with', () => expect.fail('logger is not installed, and CI=true forbids skipping'));

describe.skipIf(loggerMissing)('LoggerDatagramTransport', () => {
  it('rejects the send when logger cannot reach the socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-syslog-'));
    const transport = new LoggerDatagramTransport(join(dir, 'gone.sock'));
    try {
      const item = { message: '<155>1 - - execwarden 1 alert - {}', pri: 155, msgid: 'alert', json: '{}' };
      await expect(transport.send(item)).rejects.toThrow(/gone\.sock: No such file or directory/);
      // A new logger is started for the next attempt, and fails the same way.
      await expect(transport.send(item)).rejects.toThrow(/gone\.sock: No such file or directory/);
    } finally {
      await transport.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const rsyslogMissing = rsyslogUnavailable();

describe.skipIf(rsyslogMissing !== null)('SyslogSink over a unix datagram socket', () => {
  it('counts messages as failed and dropped once the daemon is gone', async () => {
    const daemon = await RsyslogDaemon.start();
    const { sink, errors } = failingSink({ transport: 'unix', path: daemon.dgramSocket, retry: NO_RETRY });
    try {
      await sink.start();
      const marker = `unix-before-${process.pid}`;
      sink.write(alert(marker));
      expect(await settled(sink, 1)).toMatchObject({ written: 1, failures: 0 });
      await daemon.waitFor(marker, 1);

      await daemon.stop();
      for (let i = 0; i < 3; i += 1) sink.write(alert(`unix-after-${i}`));
      expect(await settled(sink, 4)).toMatchObject({ written: 1, failures: 3, dropped: 3 });
      for (const error of errors) expect(error).toMatch(/dgram\.sock: (No such file or directory|Connection refused)/);
    } finally {
      await sink.close(1_000);
      await daemon.stop();
    }
  });
});
