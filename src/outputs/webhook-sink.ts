/**
 * Each document as one JSON POST to an HTTP(S) endpoint, with a per-request timeout and the
 * queue's exponential-backoff retries. The answer decides the fate of a document:
 * 2xx delivered; 408, 429, 5xx and network errors retried; any other status (3xx is not followed,
 * 4xx means the receiver will never take it) dropped and counted. start() checks the URL and the
 * CA files but sends nothing: a probe request would show up as noise at the receiver.
 *
 * Delivery policy (QueuedSink's concurrent mode): up to `concurrency` requests in flight (default
 * 4), so one request that never gets an answer holds one slot for its timeout, not the queue; a
 * failed document waits for its retry beside the queue; after 5 failures in a row the circuit
 * opens and one document at a time probes the endpoint, after 1 s, then at doubling intervals up
 * to 30 s, so a recovered endpoint gets the backlog within 30 s; a document still queued
 * `maxAgeMs` after it was written (default 1 hour) is dropped and counted as expired, a loss the
 * agent reports. Documents may arrive out of order: each carries its own @timestamp.
 */
import http from 'node:http';
import https from 'node:https';
import { DeliveryRejectedError } from './errors.js';
import { toJsonLine } from './json-line.js';
import { QueuedSink, type BreakerPolicy, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';
import type { MinSeverity } from './severity.js';
import { trustedCas } from './trusted-cas.js';

import { DEFAULT_WEBHOOK_CONCURRENCY, DEFAULT_WEBHOOK_MAX_AGE_MS, DEFAULT_WEBHOOK_RETRIES, DEFAULT_WEBHOOK_TIMEOUT_MS } from './webhook-defaults.js';
export const WEBHOOK_USER_AGENT = 'execwarden';

export interface WebhookSinkOptions {
  url: string;
  timeoutMs?: number;
  retries?: number;
  /** Extra request headers, e.g. Authorization. */
  headers?: Record<string, string>;
  /** Extra trusted CA certificates (PEM text), added to Node's default store. */
  ca?: string | string[];
  /** Extra trusted CA certificate files (PEM), added to Node's default store. */
  caFile?: string;
  maxQueued?: number;
  /** Backoff timing; `retries` above wins over retry.retries. */
  retry?: Partial<RetryPolicy>;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Circuit breaker timing (tests). */
  breaker?: Partial<BreakerPolicy>;
  /** Documents not delivered this long after they were written are dropped as expired. Default 1 h. */
  maxAgeMs?: number;
  onError?: SinkErrorHandler;
  /** Alerts below this are counted as filtered, not sent. Default low: every alert. */
  minSeverity?: MinSeverity;
}

/** Statuses worth trying again: the receiver is busy or broken now, not refusing the document. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

class HttpPostTransport implements SinkTransport<string> {
  private readonly url: URL;
  private agent: http.Agent | null = null;
  private readonly inFlight = new Set<http.ClientRequest>();

  constructor(private readonly options: WebhookSinkOptions) {
    this.url = new URL(options.url);
  }

  async open(): Promise<void> {
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new Error(`unsupported URL scheme ${this.url.protocol} (expected http: or https:)`);
    }
    const pem = this.options.ca === undefined ? [] : [this.options.ca].flat();
    const ca = await trustedCas(pem, this.options.caFile ? [this.options.caFile] : []);
    const maxSockets = this.options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets, ...(ca ? { ca } : {}) })
        : new http.Agent({ keepAlive: true, maxSockets });
  }

  send(body: string): Promise<void> {
    const agent = this.agent;
    if (!agent) return Promise.reject(new Error('webhook is closed'));
    const request = this.url.protocol === 'https:' ? https.request : http.request;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    return new Promise<void>((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        agent,
        headers: {
          'user-agent': WEBHOOK_USER_AGENT,
          ...this.options.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      });
      this.inFlight.add(req);
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        this.inFlight.delete(req);
        if (error) reject(error);
        else resolve();
      };
      req.on('error', settle);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('error', settle);
        res.on('end', () => {
          if (status >= 200 && status < 300) settle();
          else if (isRetryableStatus(status)) settle(new Error(`webhook answered HTTP ${status}`));
          else settle(new DeliveryRejectedError(`webhook refused the document: HTTP ${status}`));
        });
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    for (const req of this.inFlight) req.destroy(new Error('webhook sink closed'));
    this.inFlight.clear();
    this.agent?.destroy();
    this.agent = null;
  }
}

export class WebhookSink extends QueuedSink<string> {
  readonly url: string;

  constructor(options: WebhookSinkOptions) {
    super({
      name: 'webhook',
      transport: new HttpPostTransport(options),
      encode: (doc) => toJsonLine(doc),
      maxQueued: options.maxQueued,
      retry: { ...options.retry, retries: options.retries ?? options.retry?.retries ?? DEFAULT_WEBHOOK_RETRIES },
      concurrency: options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY,
      breaker: options.breaker,
      maxAgeMs: options.maxAgeMs ?? DEFAULT_WEBHOOK_MAX_AGE_MS,
      onError: options.onError,
      minSeverity: options.minSeverity,
    });
    this.url = options.url;
  }
}
