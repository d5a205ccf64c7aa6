/**
 * The network look-ups `status` makes, each bounded in time and size and none of them sending
 * anything an output would: a TCP connect that is closed as soon as it is accepted, a name
 * look-up, and a GET of the agent's own metrics page read up to a fixed size.
 */
import { lookup } from 'node:dns/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { ListenAddress } from '../agent/config.js';

export type Reach = { ok: true; ms: number } | { ok: false; error: string };

export const REACH_TIMEOUT_MS = 1500;
/** The most of a metrics page read; the agent's own is a few KiB. */
export const MAX_METRICS_BYTES = 1024 * 1024;

function errorText(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message ?? error);
}

/** Opens a TCP connection and closes it at once, without writing a byte. */
export function tcpConnect(host: string, port: number, timeoutMs = REACH_TIMEOUT_MS): Promise<Reach> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reach: Reach): void => {
      socket.destroy();
      resolve(reach);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, error: `no answer within ${timeoutMs} ms` }));
    socket.once('error', (error) => done({ ok: false, error: errorText(error) }));
    socket.once('connect', () => done({ ok: true, ms: Math.round(performance.now() - started) }));
  });
}

export async function resolves(host: string, timeoutMs = REACH_TIMEOUT_MS): Promise<Reach> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Reach>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([
      lookup(host).then((): Reach => ({ ok: true, ms: Math.round(performance.now() - started) })),
      timeout,
    ]).catch((error: unknown): Reach => ({ ok: false, error: errorText(error) }));
  } finally {
    clearTimeout(timer);
  }
}

/** The address to reach a listener on: a wildcard bind is reached on loopback. */
export function dialAddress(listen: ListenAddress): ListenAddress {
  if (listen.host === '0.0.0.0') return { host: '127.0.0.1', port: listen.port };
  if (listen.host === '::') return { host: '::1', port: listen.port };
  return listen;
}

export type MetricsFetch = { ok: true; text: string; truncated: boolean } | { ok: false; error: string };

/** GET http://host:port/metrics, at most MAX_METRICS_BYTES, within the timeout. */
export function fetchMetricsText(listen: ListenAddress, timeoutMs = REACH_TIMEOUT_MS): Promise<MetricsFetch> {
  const { host, port } = dialAddress(listen);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: MetricsFetch): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const req = request({ host, port, path: '/metrics', method: 'GET', headers: { accept: 'text/plain' } }, (res) => {
      if (res.statusCode !== 200) {
        finish({ ok: false, error: `HTTP ${res.statusCode ?? '?'}` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        const room = MAX_METRICS_BYTES - size;
        chunks.push(chunk.subarray(0, room));
        size += Math.min(chunk.length, room);
        if (chunk.length > room) finish({ ok: true, text: Buffer.concat(chunks).toString('utf8'), truncated: true });
      });
      res.once('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8'), truncated: false }));
      res.once('error', (error) => finish({ ok: false, error: errorText(error) }));
    });
    req.once('error', (error) => finish({ ok: false, error: errorText(error) }));
    req.end();
  });
}
