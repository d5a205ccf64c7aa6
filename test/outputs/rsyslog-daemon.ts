/**
 * A private rsyslogd for the syslog sink tests: loopback UDP and TCP inputs on free ports, a unix
 * datagram socket (imuxsock) and a unix stream socket (imptcp) in a temp directory, everything
 * written to one file as a JSON line per message with the raw message and the fields rsyslog
 * parsed from it. Not found: skip with a message, except in CI (CI=true) where it is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReceivedMessage {
  input: string;
  raw: string;
  pri: string;
  version: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

export function findRsyslogd(): string | null {
  for (const candidate of ['/usr/sbin/rsyslogd', '/sbin/rsyslogd']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v rsyslogd'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

/** Why the syslog tests cannot run here, or null when they can (throws in CI instead of skipping). */
export function rsyslogUnavailable(): string | null {
  if (findRsyslogd()) return null;
  const reason = 'rsyslogd not found (Debian package: rsyslog)';
  if (process.env.CI === 'true') throw new Error(`${reason}: required in CI`);
  return reason;
}

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 15_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function tcpAccepts(port: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

export class RsyslogDaemon {
  private child: ChildProcess | null = null;
  private stderr = '';

  private constructor(
    readonly dir: string,
    readonly udpPort: number,
    readonly tcpPort: number,
    readonly dgramSocket: string,
    readonly streamSocket: string,
    readonly outFile: string,
  ) {}

  static async start(): Promise<RsyslogDaemon> {
    const rsyslogd = findRsyslogd();
    if (!rsyslogd) throw new Error('rsyslogd not found');
    const dir = await mkdtemp(join(tmpdir(), 'execwarden-rsyslog-'));
    const daemon = new RsyslogDaemon(
      dir,
      await freePort('udp'),
      await freePort('tcp'),
      join(dir, 'dgram.sock'),
      join(dir, 'stream.sock'),
      join(dir, 'messages.jsonl'),
    );
    await daemon.launch(rsyslogd);
    return daemon;
  }

  /** Stops the daemon and starts it again with the same sockets and ports. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch(findRsyslogd() as string);
  }

  private async launch(rsyslogd: string): Promise<void> {
    const conf = join(this.dir, 'rsyslog.conf');
    await writeFile(
      conf,
      `global(workDirectory="${this.dir}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${this.dgramSocket}" UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${this.udpPort}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${this.tcpPort}")
module(load="imptcp")
input(type="imptcp" path="${this.streamSocket}")
template(name="parsed" type="list") {
  constant(value="{")
  property(outname="input" name="inputname" format="jsonf") constant(value=",")
  property(outname="raw" name="rawmsg" format="jsonf") constant(value=",")
  property(outname="pri" name="pri" format="jsonf") constant(value=",")
  property(outname="version" name="protocol-version" format="jsonf") constant(value=",")
  property(outname="hostname" name="hostname" format="jsonf") constant(value=",")
  property(outname="app" name="app-name" format="jsonf") constant(value=",")
  property(outname="procid" name="procid" format="jsonf") constant(value=",")
  property(outname="msgid" name="msgid" format="jsonf") constant(value=",")
  property(outname="sd" name="structured-data" format="jsonf") constant(value=",")
  property(outname="msg" name="msg" format="jsonf")
  constant(value="}\\n")
}
*.* action(type="omfile" file="${this.outFile}" template="parsed")
`,
    );
    // Stale sockets from a previous run would make the readiness check below pass too early.
    await Promise.all([this.dgramSocket, this.streamSocket].map((path) => rm(path, { force: true })));
    const child = spawn(rsyslogd, ['-n', '-f', conf, '-i', join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (this.stderr += text));
    await until(`rsyslogd to listen (${this.stderr})`, async () => {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited ${child.exitCode}: ${this.stderr}`);
      if (!existsSync(this.dgramSocket) || !existsSync(this.streamSocket)) return undefined;
      return tcpAccepts(this.tcpPort);
    });
  }

  /** Messages received so far whose raw text contains `marker`. */
  async received(marker: string): Promise<ReceivedMessage[]> {
    let text = '';
    try {
      text = await readFile(this.outFile, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.includes(marker))
      .map((line) => JSON.parse(line) as ReceivedMessage);
  }

  /** Waits until `count` messages containing `marker` have arrived. */
  async waitFor(marker: string, count: number): Promise<ReceivedMessage[]> {
    return until(`${count} syslog messages with ${marker}`, async () => {
      const found = await this.received(marker);
      return found.length >= count ? found : undefined;
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
  }
}
