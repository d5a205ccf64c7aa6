import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSink } from '../../src/outputs/webhook-sink.js';

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
    expect(received.map((r) => JSON.parse(r.body))).toEqual([doc, alert(2)]);
    expect(received[0]).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' } });
    expect(sink.stats()).toEqual({ name: 'webhook', queued: 0, written: 2, dropped: 0, failures: 0 });
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
    const sink = new WebhookSink({ url, retries: 5, retry: FAST });
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
