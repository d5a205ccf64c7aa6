/**
 * For each configured output, what can be learnt about it from here without sending an alert:
 * the file output's directory (which of its ancestors exists, who owns it, whether this process
 * may write there), the syslog socket's presence, a TCP connect to a syslog or webhook peer that
 * is closed at once, a name look-up for UDP (which has no handshake to try). The webhook's URL is
 * reduced to its origin: a path, query or user part may carry a token.
 */
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { OutputsConfig } from '../outputs/config.js';
import { resolves, tcpConnect, type Reach } from './reach.js';

export interface PathFacts {
  /** The configured path's directory, and its nearest ancestor that exists (itself when it does). */
  dir: string;
  existingAncestor: string;
  ancestorUid: number;
  ancestorMode: number;
  /** This process may create files in the nearest existing ancestor. */
  writableHere: boolean;
  /** The file itself: absent, a regular file (writable here or not), or something else. */
  file: 'absent' | 'file' | 'other';
  fileWritableHere: boolean;
}

export type OutputFacts =
  | { kind: 'stdout'; format: string }
  | { kind: 'file'; path: string; facts: PathFacts }
  | { kind: 'syslog-unix'; transport: string; path: string; socket: 'socket' | 'missing' | 'not-socket' | 'unreadable'; loggerOnPath: boolean }
  | { kind: 'syslog-udp'; host: string; port: number; reach: Reach }
  | { kind: 'syslog-tcp'; host: string; port: number; reach: Reach }
  | { kind: 'webhook'; origin: string; host: string; port: number; reach: Reach; caFile: string | null; caReadable: boolean | null };

/** Whether this process may access `path` in `mode` (constants.R_OK, W_OK). */
function mayAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

export function pathFacts(path: string): PathFacts {
  const dir = dirname(path);
  let ancestor = dir;
  let info = null;
  for (;;) {
    try {
      info = statSync(ancestor);
      break;
    } catch {
      const parent = dirname(ancestor);
      if (parent === ancestor) break;
      ancestor = parent;
    }
  }
  let file: PathFacts['file'] = 'absent';
  try {
    file = lstatSync(path).isFile() ? 'file' : 'other';
  } catch {
    file = 'absent';
  }
  return {
    dir,
    existingAncestor: ancestor,
    ancestorUid: info?.uid ?? -1,
    ancestorMode: info?.mode ?? 0,
    writableHere: mayAccess(ancestor, constants.W_OK),
    file,
    fileWritableHere: file === 'file' && mayAccess(path, constants.W_OK),
  };
}

function socketState(path: string): 'socket' | 'missing' | 'not-socket' | 'unreadable' {
  try {
    return statSync(path).isSocket() ? 'socket' : 'not-socket';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
}

/** Whether `program` is an executable file in one of the PATH directories. */
export function onPath(program: string, pathVariable = process.env.PATH ?? '/usr/bin:/bin'): boolean {
  return pathVariable.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `https://siem.example.net:8443` from a URL: no user, path, query or fragment. */
export function webhookOrigin(url: string): { origin: string; host: string; port: number } | null {
  try {
    const parsed = new URL(url);
    const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    return { origin: `${parsed.protocol}//${parsed.host}`, host, port };
  } catch {
    return null;
  }
}

/** Every configured output's facts; the network ones are looked up at the same time. */
export async function readOutputFacts(outputs: OutputsConfig): Promise<OutputFacts[]> {
  const pending: Promise<OutputFacts>[] = [];
  if (outputs.stdout) pending.push(Promise.resolve({ kind: 'stdout', format: outputs.stdout.format }));
  if (outputs.file) pending.push(Promise.resolve({ kind: 'file', path: outputs.file.path, facts: pathFacts(outputs.file.path) }));
  const syslog = outputs.syslog;
  if (syslog) {
    if ('path' in syslog) {
      pending.push(Promise.resolve({ kind: 'syslog-unix', transport: syslog.transport, path: syslog.path, socket: socketState(syslog.path), loggerOnPath: onPath('logger') }));
    } else {
      const { host, port } = syslog;
      pending.push(
        syslog.transport === 'udp'
          ? resolves(host).then((reach) => ({ kind: 'syslog-udp', host, port, reach }))
          : tcpConnect(host, port).then((reach) => ({ kind: 'syslog-tcp', host, port, reach })),
      );
    }
  }
  const webhook = outputs.webhook;
  if (webhook) {
    const caFile = webhook.caFile ?? null;
    const caReadable = caFile === null ? null : mayAccess(caFile, constants.R_OK);
    const target = webhookOrigin(webhook.url);
    if (target !== null) {
      pending.push(tcpConnect(target.host, target.port).then((reach) => ({ kind: 'webhook', ...target, reach, caFile, caReadable })));
    }
  }
  return Promise.all(pending);
}
