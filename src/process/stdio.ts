/**
 * A process's standard streams at exec, as events carry them.
 *
 * The native reader records what fds 0, 1 and 2 are (native/stdio_probe.h): the link text read in
 * the urgent half, a path's type from the inode, a socket's family, protocol and addresses. A
 * shell or interpreter whose stdin or stdout is a TCP or UDP socket is a reverse or bind shell
 * however it was spelled; a pty wrapper leaves the socket on the parent, so the parent's streams
 * at the same moment are recorded too.
 *
 * ECS has no field for this, so events carry it in execwarden's namespace:
 *
 *   execwarden.process.stdio.{stdin,stdout,stderr}         this process's streams at its exec
 *   execwarden.process.parent.stdio.{stdin,stdout,stderr}  the parent's, at the same moment
 *
 * each { type, path, socket: { family, type, protocol, local: {ip, port | path},
 * remote: {ip, port | path} } }. `type` is socket, pipe, fifo, tty, file, null (/dev/null),
 * device, anon (anon_inode), closed, other or unknown; `path` is the link text (bounded). A
 * socket's `family` is ipv4, ipv6, unix or unknown (netlink, packet, a unix socket of another
 * network namespace).
 *
 * The /proc scanner (processes found at start or by a rescan, not seen at their exec) does not
 * read them: at its exec a process's streams are what they were, later they are whatever it made
 * of them; on the JS thread a socket could not be resolved without reading listings that grow
 * with the host's connections, and a rescan runs over every process after each loss, in storms.
 * `readStdioLinks` classifies links by their text for tools and tests.
 */
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SOCKET_FAMILIES, STREAM_TYPES, type SocketEndpoint, type StdioStream, type StreamSocket } from '../capture/raw-event.js';

/** Longest link text kept per stream (a path may be 4 KiB; six of them per event add up). */
export const STREAM_PATH_MAX_CHARS = 1024;

export interface EcsSocketEndpoint {
  ip?: string;
  port?: number;
  path?: string;
}

export interface EcsStreamSocket {
  family: string;
  type?: string;
  protocol?: string;
  local?: EcsSocketEndpoint;
  remote?: EcsSocketEndpoint;
}

export interface EcsStream {
  type: string;
  path?: string;
  socket?: EcsStreamSocket;
}

export interface EcsStdio {
  stdin: EcsStream;
  stdout: EcsStream;
  stderr: EcsStream;
}

function boundedPath(path: string): string {
  return path.length <= STREAM_PATH_MAX_CHARS ? path : path.slice(0, STREAM_PATH_MAX_CHARS);
}

function endpointForOutput(endpoint: SocketEndpoint): EcsSocketEndpoint {
  const out: EcsSocketEndpoint = {};
  if (endpoint.ip !== undefined) out.ip = endpoint.ip;
  if (endpoint.port !== undefined) out.port = endpoint.port;
  if (endpoint.path !== undefined) out.path = boundedPath(endpoint.path);
  return out;
}

function streamForOutput(stream: StdioStream): EcsStream {
  const out: EcsStream = { type: stream.type };
  if (stream.path !== undefined) out.path = boundedPath(stream.path);
  if (stream.socket) {
    const socket: EcsStreamSocket = { family: stream.socket.family };
    if (stream.socket.type !== undefined) socket.type = stream.socket.type;
    if (stream.socket.protocol !== undefined) socket.protocol = stream.socket.protocol;
    if (stream.socket.local) socket.local = endpointForOutput(stream.socket.local);
    if (stream.socket.remote) socket.remote = endpointForOutput(stream.socket.remote);
    out.socket = socket;
  }
  return out;
}

/** The three streams as an event writes them; undefined when they were not read. */
export function stdioForOutput(streams: readonly StdioStream[] | null | undefined): EcsStdio | undefined {
  if (!streams || streams.length !== 3) return undefined;
  return { stdin: streamForOutput(streams[0]!), stdout: streamForOutput(streams[1]!), stderr: streamForOutput(streams[2]!) };
}

/** True when any of the streams is a TCP or UDP socket. */
export function hasNetworkStream(streams: readonly StdioStream[] | null | undefined): boolean {
  return !!streams && streams.some((s) => s.socket?.family === 'ipv4' || s.socket?.family === 'ipv6');
}

/** What the link text alone tells (the native reader's first step, without its inode lookups). */
export function streamFromLink(link: string): StdioStream {
  const numbered = (prefix: string): number | undefined => {
    const match = new RegExp(`^${prefix}:\\[(\\d{1,20})\\]$`).exec(link);
    return match ? Number(match[1]) : undefined;
  };
  const path = boundedPath(link);
  if (link.startsWith('socket:[')) {
    const inode = numbered('socket');
    return { type: 'socket', path, ...(inode !== undefined ? { inode } : {}), socket: { family: 'unknown' } };
  }
  if (link.startsWith('pipe:[')) {
    const inode = numbered('pipe');
    return { type: 'pipe', path, ...(inode !== undefined ? { inode } : {}) };
  }
  if (link.startsWith('anon_inode:')) return { type: 'anon', path };
  if (link === '/dev/null') return { type: 'null', path };
  if (link.startsWith('/dev/pts/') || link.startsWith('/dev/tty') || link === '/dev/console') return { type: 'tty', path };
  if (link.startsWith('/')) return { type: 'file', path };
  return { type: 'other', path };
}

/**
 * The links of fds 0-2 under `<root>/<pid>/fd`, classified by their text (see the module header);
 * null when the process is gone.
 */
export function readStdioLinks(root: string, pid: number): StdioStream[] | null {
  const streams: StdioStream[] = [];
  for (let fd = 0; fd < 3; fd++) {
    try {
      streams.push(streamFromLink(readlinkSync(join(root, String(pid), 'fd', String(fd)))));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // No such descriptor, or no such process: the fd directory tells which.
        if (!existsSync(join(root, String(pid), 'fd'))) return null;
        streams.push({ type: 'closed' });
      } else if (code === 'ESRCH') {
        return null;
      } else {
        streams.push({ type: 'unknown' });
      }
    }
  }
  return streams;
}

// --- recorded input: validated, since a recording may be hand-edited or hostile ---

type Fail = (what: string) => never;

function optionalString(value: unknown, field: string, fail: Fail, max = STREAM_PATH_MAX_CHARS * 4): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max) fail(`${field} must be a string of at most ${max} characters`);
  return value as string;
}

function optionalPort(value: unknown, field: string, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) fail(`${field} must be a port number`);
  return value as number;
}

function parseEndpoint(value: unknown, field: string, fail: Fail): SocketEndpoint | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') fail(`${field} must be an object`);
  const v = value as Record<string, unknown>;
  const out: SocketEndpoint = {};
  const ip = optionalString(v.ip, `${field}.ip`, fail, 64);
  const port = optionalPort(v.port, `${field}.port`, fail);
  const path = optionalString(v.path, `${field}.path`, fail);
  if (ip !== undefined) out.ip = ip;
  if (port !== undefined) out.port = port;
  if (path !== undefined) out.path = path;
  return out;
}

function parseSocket(value: unknown, field: string, fail: Fail): StreamSocket | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') fail(`${field} must be an object`);
  const v = value as Record<string, unknown>;
  if (!SOCKET_FAMILIES.includes(v.family as never)) fail(`${field}.family must be one of ${SOCKET_FAMILIES.join(', ')}`);
  const socket: StreamSocket = { family: v.family as StreamSocket['family'] };
  const type = optionalString(v.type, `${field}.type`, fail, 16);
  const protocol = optionalString(v.protocol, `${field}.protocol`, fail, 16);
  const local = parseEndpoint(v.local, `${field}.local`, fail);
  const remote = parseEndpoint(v.remote, `${field}.remote`, fail);
  if (type !== undefined) socket.type = type;
  if (protocol !== undefined) socket.protocol = protocol;
  if (local) socket.local = local;
  if (remote) socket.remote = remote;
  return socket;
}

/** A recorded snapshot's `stdio`/`parentStdio`: null, or three streams of the documented shape. */
export function parseRecordedStdio(value: unknown, field: string, fail: Fail): StdioStream[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length !== 3) fail(`${field} must be null or a list of 3 streams`);
  return (value as unknown[]).map((item, fd) => {
    const name = `${field}[${fd}]`;
    if (item === null || typeof item !== 'object') fail(`${name} must be an object`);
    const v = item as Record<string, unknown>;
    if (!STREAM_TYPES.includes(v.type as never)) fail(`${name}.type must be one of ${STREAM_TYPES.join(', ')}`);
    const stream: StdioStream = { type: v.type as StdioStream['type'] };
    const path = optionalString(v.path, `${name}.path`, fail);
    if (path !== undefined) stream.path = path;
    if (v.inode !== undefined) {
      if (typeof v.inode !== 'number' || !Number.isSafeInteger(v.inode) || v.inode < 0) fail(`${name}.inode must be a number`);
      stream.inode = v.inode as number;
    }
    const socket = parseSocket(v.socket, `${name}.socket`, fail);
    if (socket) stream.socket = socket;
    return stream;
  });
}

