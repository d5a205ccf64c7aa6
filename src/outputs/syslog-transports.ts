/**
 * The ways a syslog message leaves the host: UDP (one datagram per message), TCP and unix stream
 * sockets (octet-counted frames), and unix datagram sockets such as /dev/log.
 *
 * Node has no AF_UNIX datagram sockets, so the datagram transport hands each message to a
 * long-lived util-linux `logger` (present on every Debian and RHEL system) reading stdin with
 * `--prio-prefix`: we write `<PRI>JSON\n`, logger writes the RFC 5424 header (same fields as ours:
 * version 1, timestamp, hostname, app-name, our pid as PROCID, MSGID; `notq` keeps structured
 * data empty) and sends one datagram. Delivery is then confirmed only as far as logger's stdin;
 * whatever logger reports on stderr is counted as a failure and the child is replaced, which is
 * also how it reconnects after the syslog daemon restarts.
 *
 * Every transport connects lazily in send(), so the queue's retry is a reconnect.
 */
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { DeliveryRejectedError } from './errors.js';
import { octetCountedFrame, SYSLOG_APP_NAME } from './syslog-format.js';
import type { SinkTransport } from './queued-sink.js';
import { writeToStream } from './stream-write.js';

/** What the syslog sink queues: the full RFC 5424 message plus the parts logger needs. */
export interface SyslogItem {
  message: string;
  pri: number;
  msgid: string;
  json: string;
}

export const CONNECT_TIMEOUT_MS = 5_000;
/**
 * Largest message sent as one datagram: below UDP's 65,507-byte payload limit, and the --size we
 * give logger (which would truncate, leaving broken JSON, rather than refuse).
 */
export const MAX_DATAGRAM_BYTES = 65_000;

/** A datagram that can never fit is dropped at once instead of being retried. */
function checkDatagramSize(text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DATAGRAM_BYTES) {
    throw new DeliveryRejectedError(`message of ${bytes} bytes exceeds the ${MAX_DATAGRAM_BYTES}-byte datagram limit`);
  }
}

export class UdpTransport implements SinkTransport<SyslogItem> {
  private socket: dgram.Socket | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async open(): Promise<void> {
    const { address, family } = await lookup(this.host);
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    // Errors also reach send() callbacks; this listener only keeps them from being fatal.
    socket.on('error', () => this.discard(socket));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(this.port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.unref();
    this.socket = socket;
  }

  async send(item: SyslogItem): Promise<void> {
    checkDatagramSize(item.message);
    if (!this.socket) await this.open();
    const socket = this.socket as dgram.Socket;
    await new Promise<void>((resolve, reject) => {
      socket.send(Buffer.from(item.message, 'utf8'), (error) => {
        if (error) {
          this.discard(socket);
          reject(error);
        } else resolve();
      });
    });
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.socket) this.discard(this.socket);
  }

  private discard(socket: dgram.Socket): void {
    if (this.socket === socket) this.socket = null;
    try {
      socket.close();
    } catch {
      // already closed
    }
  }
}

export type StreamEndpoint = { host: string; port: number } | { path: string };

export class StreamTransport implements SinkTransport<SyslogItem> {
  private socket: net.Socket | null = null;

  constructor(private readonly endpoint: StreamEndpoint) {}

  async open(): Promise<void> {
    const socket = net.connect(this.endpoint);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        socket.destroy();
        reject(error);
      };
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.off('error', fail);
        socket.setTimeout(0);
        resolve();
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
    });
    // The receiver never answers; reading keeps the peer's FIN from going unnoticed.
    socket.on('data', () => undefined);
    socket.unref();
    this.socket = socket;
  }

  async send(item: SyslogItem): Promise<void> {
    if (!this.socket || this.socket.destroyed) await this.open();
    const socket = this.socket as net.Socket;
    try {
      await writeToStream(socket, octetCountedFrame(item.message));
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
    });
  }
}

const execFileAsync = promisify(execFile);

/** Called when a message already handed over is known to be lost (logger complained). */
export type LateFailureHandler = (error: Error) => void;

export class LoggerDatagramTransport implements SinkTransport<SyslogItem> {
  /** One logger per MSGID, since logger takes MSGID per process. */
  private readonly children = new Map<string, ChildProcessWithoutNullStreams>();
  onLateFailure: LateFailureHandler = () => undefined;

  constructor(
    private readonly path: string,
    private readonly procid: number = process.pid,
    private readonly loggerCommand = 'logger',
  ) {}

  async open(): Promise<void> {
    const info = await stat(this.path);
    if (!info.isSocket()) throw new Error(`${this.path} is not a socket`);
    // logger connects before it would write; --no-act proves the socket accepts us.
    try {
      await execFileAsync(this.loggerCommand, ['--no-act', '--socket-errors=on', '-u', this.path, 'execwarden'], {
        timeout: CONNECT_TIMEOUT_MS,
      });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(stderr ? stderr : `cannot run ${this.loggerCommand}: ${(error as Error).message}`, { cause: error });
    }
  }

  async send(item: SyslogItem): Promise<void> {
    checkDatagramSize(item.message);
    const child = this.children.get(item.msgid) ?? this.spawnLogger(item.msgid);
    await writeToStream(child.stdin, `<${item.pri}>${item.json}\n`);
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    const exits = [...this.children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.stdin.end();
          setTimeout(() => child.kill('SIGKILL'), 1_000).unref();
        }),
    );
    this.children.clear();
    await Promise.all(exits);
  }

  private spawnLogger(msgid: string): ChildProcessWithoutNullStreams {
    const args = [
      '--socket-errors=on',
      '-u', this.path,
      '--rfc5424=notq',
      '--prio-prefix',
      '-t', SYSLOG_APP_NAME,
      `--id=${this.procid}`,
      '--msgid', msgid,
      '--size', String(MAX_DATAGRAM_BYTES),
    ];
    const child = spawn(this.loggerCommand, args, { stdio: ['pipe', 'ignore', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
    const forget = (): void => {
      if (this.children.get(msgid) === child) this.children.delete(msgid);
    };
    child.on('error', (error) => {
      forget();
      this.onLateFailure(error);
    });
    child.on('exit', forget);
    child.stdin.on('error', () => forget());
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      // Replace the child: its socket may point at a daemon that has gone away.
      forget();
      child.stdin.end();
      this.onLateFailure(new Error(`logger: ${text.trim()}`));
    });
    for (const stream of [child.stdin, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    child.unref();
    this.children.set(msgid, child);
    return child;
  }
}
