/**
 * RFC 5424 messages for the syslog sink.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME execwarden PROCID MSGID - MSG
 *
 * PRI = facility * 8 + severity, the severity read from the document (severity.ts). MSGID is the
 * document's `event.kind` ("alert", "event", ... or "-"). There is no structured data. MSG is the
 * document itself as single-line JSON, without a BOM, so a collector can hand it to a JSON parser
 * as is (rsyslog: mmjsonparse with `cookie=""`; most SIEMs: a JSON field extractor). Receivers
 * should accept messages of 64 KiB (rsyslog's default maxMessageSize is 8 KiB).
 *
 * Over byte streams (TCP, unix stream) each message is framed by octet counting (RFC 6587 3.4.1):
 * `LENGTH SP MESSAGE`, LENGTH in bytes.
 */
import { docField } from '../doc-field.js';
import { severityOf, SYSLOG_SEVERITY } from './severity.js';

/** The syslog output's defaults (here, not in the sink, so reading a config loads no transport). */
export const DEFAULT_SYSLOG_PATH = '/dev/log';
export const DEFAULT_SYSLOG_HOST = '127.0.0.1';
export const DEFAULT_SYSLOG_PORT = 514;
export const DEFAULT_SYSLOG_FACILITY = 'auth';

export const SYSLOG_APP_NAME = 'execwarden';

export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = Object.freeze({
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  solaris_cron: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
});

export interface SyslogHeader {
  facility: number;
  hostname: string;
  procid: number | string;
}

/** RFC 5424 header fields are PRINTUSASCII without spaces, bounded; anything else becomes `_`. */
export function headerToken(value: string, maxLength: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return cleaned === '' ? '-' : cleaned;
}

export function syslogPriority(facility: number, doc: Record<string, unknown>): number {
  return facility * 8 + SYSLOG_SEVERITY[severityOf(doc)];
}

export function syslogMsgId(doc: Record<string, unknown>): string {
  const kind = docField(doc, 'event.kind');
  return typeof kind === 'string' ? headerToken(kind, 32) : '-';
}

/** The complete RFC 5424 message for `doc`, whose JSON rendering is `json`. */
export function formatSyslogMessage(header: SyslogHeader, doc: Record<string, unknown>, json: string, now: Date): string {
  const pri = syslogPriority(header.facility, doc);
  const hostname = headerToken(header.hostname, 255);
  const procid = headerToken(String(header.procid), 128);
  return `<${pri}>1 ${now.toISOString()} ${hostname} ${SYSLOG_APP_NAME} ${procid} ${syslogMsgId(doc)} - ${json}`;
}

/** RFC 6587 octet-counting frame: byte length, a space, the message. */
export function octetCountedFrame(message: string): string {
  return `${Buffer.byteLength(message, 'utf8')} ${message}`;
}
