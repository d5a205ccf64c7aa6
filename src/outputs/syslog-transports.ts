/**
 * The ways a syslog message leaves the host: UDP (one datagram per message), TCP and unix stream
 * sockets (octet-counted frames), and unix datagram sockets such as /dev/log.
 *
 * A send resolves only when the message has left and no failure is known; every failure the
 * transport can see rejects a send, so the queue retries or drops it and counts it. What "left"
 * means, and what each transport can and cannot see:
 *
 * - The socket transports (UDP, TCP, unix stream) hand the bytes to the kernel, then wait until
 *   the event loop has polled once more (afterNextPoll) before resolving. A failure the kernel has
 *   queued on the socket by then (an ICMP port-unreachable turned into ECONNREFUSED, a reset, the
 *   receiver's FIN) arrives as an 'error'/'end'/'close' event during that wait and fails this send.
 *   A failure reported later, between sends, fails the next send without sending anything; either
 *   way the broken socket is dropped and the next attempt reconnects (lazily, inside send), so the
 *   queue's retry is a reconnect. Every socket always has an 'error' listener: an unhandled one
 *   would crash the agent.
 * - UDP uses a connected socket, so the kernel reports the receiver's ICMP port-unreachable to us
 *   (as a failed send, or as a recvmsg error event). On loopback and for a local address the
 *   refusal is immediate: every datagram to a closed port fails. For a remote host the ICMP comes
 *   back a round trip later, so it fails the next datagram instead (which is then retried); and a
 *   datagram to a closed port whose ICMP never comes back (filtered, rate-limited, lost) or one
 *   the receiver drops is counted written. UDP cannot tell more than that.
 * - TCP and unix stream: written means the kernel took the frame and the connection was not reset
 *   or closed by the next poll. A receiver that dies with unread frames loses them unseen (for a
 *   remote TCP peer the reset arrives a round trip later and fails the next send).
 * - Unix datagram: Node has no AF_UNIX datagram sockets, so each message goes through a
 *   long-lived util-linux `logger` (present on every Debian and RHEL system) reading stdin with
 *   `--prio-prefix`: we write `<PRI>JSON\n`, logger writes the RFC 5424 header (same fields as
 *   ours: version 1, timestamp, hostname, app-name, our pid as PROCID, MSGID; `notq` keeps
 *   structured data empty) and sends one datagram. With `--stderr` logger echoes each message on
 *   stderr after its sendmsg(); a complaint printed before the echo (the send failed even after
 *   logger's own reconnect), or logger exiting (it cannot reconnect: ECONNREFUSED, ENOENT when the
 *   daemon is down) fails the message, and the next send starts a new logger. So a message counts
 *   as written once the daemon's socket has taken it.
 */
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { describeError, DeliveryRejectedError } from './errors.js';
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
/** Largest message sent as one datagram: below UDP's 65,507-byte payload limit. */
export const MAX_DATAGRAM_BYTES = 65_000;
/**
 * logger counts its own header (longer than ours: microsecond timestamp, the host's name) against
 * --size and would split a longer line into two messages, leaving broken JSON; the allowance
 * keeps every message that passes checkDatagramSize whole.
 */
const LOGGER_HEADER_ALLOWANCE = 512;

/** A datagram that can never fit is dropped at once instead of being retried. */
function checkDatagramSize(text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DATAGRAM_BYTES) {
    throw new DeliveryRejectedError(`message of ${bytes} bytes exceeds the ${MAX_DATAGRAM_BYTES}-byte datagram limit`);
  }
}

/**
 * Resolves once the event loop has polled for I/O again. A setImmediate callback runs after the
 * poll phase of its iteration, but that poll may have started before this call; the second of two
 * nested ones runs after a poll that started after it. So whatever the kernel had already queued
 * on our sockets by now has been delivered as an event when this resolves.
 */
function afterNextPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * Brings a failure a socket reports by event, outside any write callback, to a send: the one in
 * flight, or else the next one.
 */
class SocketFailures {
  private pending: Error | null = null;
  private failInFlight: ((error: Error) => void) | null = null;

  report(error: Error): void {
    const fail = this.failInFlight;
    if (fail) {
      this.failInFlight = null;
      fail(error);
    } else {
      this.pending ??= error;
    }
  }

  /**
   * Runs one send: throws a failure reported since the last one; otherwise runs `transmit` (which
   * resolves once the kernel has the bytes) and resolves after the next poll unless a failure is
   * reported meanwhile.
   */
  async send(transmit: () => Promise<void>): Promise<void> {
    const earlier = this.pending;
    if (earlier) {
      this.pending = null;
      throw earlier;
    }
    // The queue never overlaps sends, so there is at most one in flight.
    try {
      await new Promise<void>((resolve, reject) => {
        this.failInFlight = reject;
        transmit().then(afterNextPoll).then(resolve, reject);
      });
    } finally {
      this.failInFlight = null;
    }
  }

  /** The transport is closing: settle the send in flight now. */
  abort(): void {
    this.failInFlight?.(new Error('transport closed'));
    this.failInFlight = null;
  }
}

export class UdpTransport implements SinkTransport<SyslogItem> {
  private socket: dgram.Socket | null = null;
  private readonly failures = new SocketFailures();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async open(): Promise<void> {
    const { address, family } = await lookup(this.host);
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    // Send errors go to send() callbacks; this carries the asynchronous refusals (recvmsg).
    socket.on('error', (error) => this.broken(socket, error));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(this.port, address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      closeQuietly(socket);
      throw error;
    }
    socket.unref();
    this.socket = socket;
  }

  async send(item: SyslogItem): Promise<void> {
    checkDatagramSize(item.message);
    await this.failures.send(async () => {
      if (!this.socket) await this.open();
      const socket = this.socket as dgram.Socket;
      await new Promise<void>((resolve, reject) => {
        socket.send(Buffer.from(item.message, 'utf8'), (error) => {
          if (!error) return resolve();
          this.discard(socket);
          reject(error);
        });
      });
    });
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.socket) this.discard(this.socket);
    this.failures.abort();
  }

  /** The socket reported an error (usually ECONNREFUSED: a datagram was refused): replace it. */
  private broken(socket: dgram.Socket, error: Error): void {
    if (this.socket !== socket) return;
    this.discard(socket);
    this.failures.report(new Error(`udp ${this.host}:${this.port}: ${describeError(error)}`, { cause: error }));
  }

  private discard(socket: dgram.Socket): void {
    if (this.socket === socket) this.socket = null;
    closeQuietly(socket);
  }
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

export type StreamEndpoint = { host: string; port: number } | { path: string };

function describeEndpoint(endpoint: StreamEndpoint): string {
  return 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
}

export class StreamTransport implements SinkTransport<SyslogItem> {
  private socket: net.Socket | null = null;
  private readonly failures = new SocketFailures();

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
    const where = describeEndpoint(this.endpoint);
    socket.on('error', (error) => this.broken(socket, error));
    // The receiver never answers or closes while it is up; reading makes its FIN visible.
    socket.on('end', () => this.broken(socket, new Error(`${where} closed the connection`)));
    socket.on('close', () => this.broken(socket, new Error(`connection to ${where} closed`)));
    socket.on('data', () => undefined);
    socket.unref();
    this.socket = socket;
  }

  async send(item: SyslogItem): Promise<void> {
    await this.failures.send(async () => {
      if (!this.socket) await this.open();
      const socket = this.socket as net.Socket;
      try {
        await writeToStream(socket, octetCountedFrame(item.message));
      } catch (error) {
        this.discard(socket);
        throw error;
      }
    });
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    this.failures.abort();
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
    });
  }

  /** The first of 'error', 'end' and 'close' on the current socket: frames may be lost. */
  private broken(socket: net.Socket, error: Error): void {
    if (this.socket !== socket) return;
    this.discard(socket);
    this.failures.report(error);
  }

  private discard(socket: net.Socket): void {
    if (this.socket === socket) this.socket = null;
    socket.destroy();
  }
}

const execFileAsync = promisify(execFile);

/** A child's stdio stream is a pipe handle that can be (un)ref'd, which its type does not say. */
function asHandle(stream: NodeJS.ReadableStream | NodeJS.WritableStream): { ref?: () => void; unref?: () => void } {
  return stream as unknown as { ref?: () => void; unref?: () => void };
}

/** What logger echoes on stderr for each message it has sent: the line, after its own header. */
const LOGGER_ECHO = /^<\d{1,3}>1 /;

interface Unconfirmed {
  json: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * One long-lived logger (started with --stderr) and the messages it has not yet confirmed. Its
 * stderr is, in order: per message, any complaints about it, then its echo; or, when it cannot
 * reconnect, a complaint and the exit.
 */
class LoggerProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly unconfirmed: Unconfirmed[] = [];
  private complaints: string[] = [];
  private stderrTail = '';
  private writeError: Error | null = null;
  private ended: Error | null = null;
  private retired = false;

  constructor(
    private readonly command: string,
    args: readonly string[],
    private readonly lifecycle: { retired(): void; ended(): void },
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
    this.child.on('error', (error) => this.end(new Error(`cannot run ${command}: ${error.message}`, { cause: error })));
    // 'close' comes after stderr is fully read, so every complaint is known by then.
    this.child.on('close', (code, signal) => {
      const why = this.takeComplaints() ?? this.writeError?.message ?? `${command} exited with ${signal ?? `status ${code}`}`;
      this.end(new Error(why, { cause: this.writeError ?? undefined }));
    });
    this.child.stdin.on('error', (error) => {
      this.writeError ??= error;
      this.retire();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => this.readStderr(text));
    // Idle loggers must not keep the agent alive; stderr is ref'd while a confirmation is due.
    for (const stream of [this.child.stdin, this.child.stderr]) asHandle(stream).unref?.();
    this.child.unref();
  }

  /** Resolves when logger has sent the line, rejects when it could not. */
  send(line: string, json: string): Promise<void> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<void>((resolve, reject) => {
      if (this.unconfirmed.length === 0) asHandle(this.child.stderr).ref?.();
      this.unconfirmed.push({ json, resolve, reject });
      // A failed write ends logger's input; the 'close' handler then rejects with the reason.
      writeToStream(this.child.stdin, line).catch((error: Error) => {
        this.writeError ??= error;
        this.retire();
      });
    });
  }

  /** Takes no more messages; logger sends (and confirms) what it has read, then exits. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.lifecycle.retired();
    this.child.stdin.end();
  }

  /** Retires the process and waits (at most a second, then kills it) until it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = child.exitCode !== null || child.signalCode !== null || this.ended !== null;
    this.retire();
    if (exited) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      setTimeout(() => child.kill('SIGKILL'), 1_000).unref();
    });
  }

  private readStderr(text: string): void {
    const lines = (this.stderrTail + text).split('\n');
    this.stderrTail = lines.pop() ?? '';
    for (const line of lines) this.readLine(line);
  }

  private readLine(line: string): void {
    if (!LOGGER_ECHO.test(line)) {
      if (line.trim() !== '') this.complaints.push(line.trim());
      return;
    }
    const message = this.unconfirmed.shift();
    if (this.unconfirmed.length === 0) asHandle(this.child.stderr).unref?.();
    const complaint = this.takeComplaints();
    if (!message) {
      // An echo nobody waits for: the stream is out of step, so stop trusting this process.
      this.retire();
    } else if (complaint) {
      // logger already reconnected once for this message; start afresh for the next.
      message.reject(new Error(complaint));
      this.retire();
    } else if (!line.endsWith(message.json)) {
      message.reject(new Error(`${this.command} did not send the message whole`));
      this.retire();
    } else {
      message.resolve();
    }
  }

  private takeComplaints(): string | null {
    const text = this.complaints.join('; ');
    this.complaints = [];
    return text === '' ? null : text;
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = reason;
    this.retire();
    for (const message of this.unconfirmed.splice(0)) message.reject(reason);
    this.lifecycle.ended();
  }
}

export class LoggerDatagramTransport implements SinkTransport<SyslogItem> {
  /** One logger per MSGID, since logger takes MSGID per process. */
  private readonly loggers = new Map<string, LoggerProcess>();
  /** Every logger not yet exited, including retired ones still sending what they have read. */
  private readonly running = new Set<LoggerProcess>();

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
    const logger = this.loggers.get(item.msgid) ?? this.startLogger(item.msgid);
    await logger.send(`<${item.pri}>${item.json}\n`, item.json);
  }

  async reopen(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.loggers.clear();
    await Promise.all([...this.running].map((logger) => logger.stop()));
  }

  private startLogger(msgid: string): LoggerProcess {
    const args = [
      '--socket-errors=on',
      '--stderr',
      '-u', this.path,
      '--rfc5424=notq',
      '--prio-prefix',
      '-t', SYSLOG_APP_NAME,
      `--id=${this.procid}`,
      '--msgid', msgid,
      '--size', String(MAX_DATAGRAM_BYTES + LOGGER_HEADER_ALLOWANCE),
    ];
    const logger: LoggerProcess = new LoggerProcess(this.loggerCommand, args, {
      retired: () => {
        if (this.loggers.get(msgid) === logger) this.loggers.delete(msgid);
      },
      ended: () => this.running.delete(logger),
    });
    this.loggers.set(msgid, logger);
    this.running.add(logger);
    return logger;
  }
}
