import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSink } from '../../src/outputs/webhook-sink.js';
import { waitFor } from '../support/wait.js';

interface Received {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Server = http.Server | https.Server;

const servers: Server[] = [];

/** Starts a loopback server answering each request with the next status from `statuses` (then 200). */
async function startServer(statuses: number[] = [], tlsOptions?: https.ServerOptions): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const handler: http.RequestListener = (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  };
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `${tlsOptions ? 'https' : 'http'}://127.0.0.1:${port}/hooks/execwarden`, received, server };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const FAST = { baseDelayMs: 10, maxDelayMs: 50 };
const alert = (id: number): Record<string, unknown> => ({ event: { kind: 'alert', id: String(id) }, rule: { name: 'r' } });

describe('WebhookSink', () => {
  it('POSTs each document as JSON with the configured headers', async () => {
    const { url, received } = await startServer();
    const sink = new WebhookSink({ url, headers: { Authorization: 'Bearer s3cret' }, retry: FAST });
    await sink.start();
    const doc = { ...alert(1), process: { command_line: 'sh -c "x"\n\u001b[31m' } };
    sink.write(doc);
    sink.write(alert(2));
    await sink.close(5_000);
    // Up to four requests are in flight at once: arrival order is not guaranteed.
    expect(received.map((r) => JSON.parse(r.body))).toEqual(expect.arrayContaining([doc, alert(2)]));
    expect(received).toHaveLength(2);
    expect(received[0]).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' } });
    expect(sink.stats()).toEqual({ name: 'webhook', queued: 0, written: 2, dropped: 0, failures: 0, expired: 0, filtered: 0 });
  });

  it('retries 5xx, 408 and 429, then delivers', async () => {
    const { url, received } = await startServer([503, 429, 408, 500]);
    const sink = new WebhookSink({ url, retries: 5, retry: FAST });
    await sink.start();
    sink.write(alert(1));
    await sink.close(5_000);
    expect(received).toHaveLength(5);
    expect(sink.stats()).toMatchObject({ written: 1, dropped: 0, failures: 4 });
  });

  it('drops a document the receiver refuses (4xx) without retrying, and carries on', async () => {
    const { url, received } = await startServer([400, 401]);
    // One at a time, so that the refusals meet documents 1 and 2.
    const sink = new WebhookSink({ url, retries: 5, retry: FAST, concurrency: 1 });
    await sink.start();
    sink.write(alert(1));
    sink.write(alert(2));
    sink.write(alert(3));
    await sink.close(5_000);
    expect(received.map((r) => JSON.parse(r.body).event.id)).toEqual(['1', '2', '3']);
    expect(sink.stats()).toMatchObject({ written: 1, dropped: 2, failures: 2 });
  });

  it('gives up after the configured retries when the server is down, counting the drop', async () => {
    const { url, server } = await startServer();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    servers.splice(servers.indexOf(server), 1);
    const sink = new WebhookSink({ url, retries: 2, retry: FAST });
    await sink.start();
    sink.write(alert(1));
    await sink.close(5_000);
    expect(sink.stats()).toMatchObject({ written: 0, dropped: 1, failures: 3 });
  });

  it('times out a request that gets no answer', async () => {
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    servers.push(hanging);
    const { port } = hanging.address() as AddressInfo;
    const errors: string[] = [];
    const sink = new WebhookSink({ url: `http://127.0.0.1:${port}/`, timeoutMs: 100, retries: 0, retry: FAST, onError: (_s, e) => errors.push(String(e)) });
    await sink.start();
    sink.write(alert(1));
    await sink.close(5_000);
    expect(sink.stats()).toMatchObject({ written: 0, dropped: 1, failures: 1 });
    expect(errors[0]).toMatch(/no answer within 100 ms/);
  });

  it('rejects start() for a non-HTTP URL and an unreadable CA file', async () => {
    await expect(new WebhookSink({ url: 'ftp://example.org/' }).start()).rejects.toMatchObject({ code: 'OUTPUT_START_FAILED' });
    await expect(new WebhookSink({ url: 'https://example.org/', caFile: '/nonexistent/ca.pem' }).start()).rejects.toMatchObject({
      code: 'OUTPUT_START_FAILED',
    });
  });

  const openssl = spawnSync('openssl', ['version']).status === 0;
  // Outside CI a machine without openssl skips this; in CI (which installs it) it must run.
  it.skipIf(!openssl && process.env.CI !== 'true')('speaks HTTPS to a server whose self-signed certificate is added as a CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'execwarden-tls-'));
    try {
      const made = spawnSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
      expect(made.status).toBe(0);
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const { url, received } = await startServer([], { key: readFileSync(join(dir, 'key.pem')), cert });

      const untrusted = new WebhookSink({ url, retries: 0, retry: FAST });
      await untrusted.start();
      untrusted.write(alert(1));
      await untrusted.close(5_000);
      expect(untrusted.stats()).toMatchObject({ written: 0, dropped: 1 });

      const trusted = new WebhookSink({ url, caFile: join(dir, 'cert.pem'), retries: 0, retry: FAST });
      await trusted.start();
      trusted.write(alert(2));
      await trusted.close(5_000);
      expect(trusted.stats()).toMatchObject({ written: 1, dropped: 0 });
      expect(received.map((r) => JSON.parse(r.body))).toEqual([alert(2)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('WebhookSink delivery policy', () => {
  /** A server that never answers the requests whose document id is in `silent`. */
  async function partlySilentServer(silent: Set<string>): Promise<{ url: string; delivered: string[] }> {
    const delivered: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const id = (JSON.parse(body) as { event: { id: string } }).event.id;
        if (silent.has(id)) return; // accepted, never answered
        delivered.push(id);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, delivered };
  }

  it('does not hold the queue hostage to one request that never gets an answer', async () => {
    const { url, delivered } = await partlySilentServer(new Set(['1']));
    const sink = new WebhookSink({ url, timeoutMs: 3_000, retries: 0, retry: FAST });
    await sink.start();
    for (let id = 1; id <= 20; id++) sink.write(alert(id));
    // The other 19 arrive while the first one still waits for its answer.
    await waitFor('19 deliveries', () => delivered.length === 19, 2_000);
    expect(delivered).not.toContain('1');
    await sink.close(100);
    expect(sink.stats()).toMatchObject({ written: 19, dropped: 1 });
  });

  it('opens its circuit on a dead endpoint, probes it, and delivers the backlog soon after it recovers', async () => {
    // A port nobody listens on yet.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const attempts: number[] = [];
    const sink = new WebhookSink({
      url: `http://127.0.0.1:${port}/`,
      retries: 100,
      retry: { baseDelayMs: 5, maxDelayMs: 10 },
      breaker: { failures: 5, probeMs: 50, maxProbeMs: 200 },
      onError: () => attempts.push(performance.now()),
    });
    await sink.start();
    for (let id = 1; id <= 30; id++) sink.write(alert(id));
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Without a breaker 30 documents retried every 10 ms would fail thousands of times.
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    expect(attempts.length).toBeLessThan(25);
    const received: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push((JSON.parse(body) as { event: { id: string } }).event.id);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    servers.push(server);
    const recovered = performance.now();
    await waitFor('the backlog', () => received.length === 30, 2_000);
    // Within one probe interval (at most 200 ms here) and the time to send the backlog.
    expect(performance.now() - recovered).toBeLessThan(1_000);
    await sink.close(100);
    expect(sink.stats()).toMatchObject({ written: 30, dropped: 0 });
  });

  it('drops documents that waited longer than their maximum age, and counts them as expired', async () => {
    const { url, delivered } = await partlySilentServer(new Set());
    let now = 0;
    const sink = new WebhookSink({ url, concurrency: 1, maxAgeMs: 1_000, retry: FAST });
    (sink as unknown as { nowMs: () => number }).nowMs = () => now;
    sink.write(alert(1));
    sink.write(alert(2));
    now = 5_000; // both waited too long before the sink started
    await sink.start();
    sink.write(alert(3));
    await waitFor('the fresh document', () => delivered.length === 1, 2_000);
    await sink.close(100);
    expect(delivered).toEqual(['3']);
    expect(sink.stats()).toMatchObject({ written: 1, dropped: 2, expired: 2 });
  });
});

