/**
 * Alerts to a syslog daemon as RFC 5424 messages (see syslog-format.ts for the message and
 * syslog-transports.ts for the wire and for what each transport can tell about delivery). The
 * header timestamp is taken when the document is written, not when the queue gets to it.
 */
import { hostname as osHostname } from 'node:os';
import { fitDocument } from './fit-document.js';
import { QueuedSink, type RetryPolicy, type SinkErrorHandler, type SinkTransport } from './queued-sink.js';
import type { MinSeverity } from './severity.js';
import { formatSyslogMessage, syslogMsgId, syslogPriority, SYSLOG_FACILITIES } from './syslog-format.js';
import { LoggerDatagramTransport, StreamTransport, UdpTransport, type SyslogItem } from './syslog-transports.js';

export type SyslogTransportKind = 'unix' | 'unix-stream' | 'udp' | 'tcp';

export interface SyslogSinkOptions {
  transport: SyslogTransportKind;
  /** Socket path, for the unix transports. Default /dev/log. */
  path?: string;
  /** For udp/tcp. Default 127.0.0.1:514. */
  host?: string;
  port?: number;
  /** RFC 5424 facility name (see SYSLOG_FACILITIES). Default auth. */
  facility?: string;
  hostname?: string;
  maxQueued?: number;
  retry?: Partial<RetryPolicy>;
  onError?: SinkErrorHandler;
  /** Alerts below this are counted as filtered, not sent. Default low: every alert. */
  minSeverity?: MinSeverity;
  now?: () => Date;
}

import { DEFAULT_SYSLOG_FACILITY, DEFAULT_SYSLOG_HOST, DEFAULT_SYSLOG_PATH, DEFAULT_SYSLOG_PORT } from './syslog-format.js';
/**
 * The JSON of one alert in one syslog message: the datagram limit (MAX_DATAGRAM_BYTES) less room
 * for the RFC 5424 header before it. A longer alert is shortened (fit-document.ts), never dropped
 * for its size.
 */
export const SYSLOG_JSON_MAX_BYTES = 56_000;

function makeTransport(options: SyslogSinkOptions): SinkTransport<SyslogItem> {
  const path = options.path ?? DEFAULT_SYSLOG_PATH;
  const host = options.host ?? DEFAULT_SYSLOG_HOST;
  const port = options.port ?? DEFAULT_SYSLOG_PORT;
  switch (options.transport) {
    case 'unix':
      return new LoggerDatagramTransport(path);
    case 'unix-stream':
      return new StreamTransport({ path });
    case 'udp':
      return new UdpTransport(host, port);
    case 'tcp':
      return new StreamTransport({ host, port });
    default: {
      const unknown: never = options.transport;
      throw new TypeError(`unknown syslog transport ${String(unknown)}`);
    }
  }
}

export class SyslogSink extends QueuedSink<SyslogItem> {
  constructor(options: SyslogSinkOptions) {
    const facilityName = options.facility ?? DEFAULT_SYSLOG_FACILITY;
    const facility = SYSLOG_FACILITIES[facilityName];
    if (facility === undefined) throw new TypeError(`unknown syslog facility ${facilityName}`);
    const header = { facility, hostname: options.hostname ?? osHostname(), procid: process.pid };
    const now = options.now ?? (() => new Date());
    super({
      name: 'syslog',
      transport: makeTransport(options),
      encode: (whole) => {
        // The JSON travels inside one message: leave room for the RFC 5424 header around it.
        const { json, doc } = fitDocument(whole, SYSLOG_JSON_MAX_BYTES);
        return {
          message: formatSyslogMessage(header, doc, json, now()),
          pri: syslogPriority(facility, doc),
          msgid: syslogMsgId(doc),
          json,
        };
      },
      maxQueued: options.maxQueued,
      retry: options.retry,
      onError: options.onError,
      minSeverity: options.minSeverity,
    });
  }
}
