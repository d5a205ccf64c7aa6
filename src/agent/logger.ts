/** The agent's own log: pino JSON lines on stderr (the journal, under systemd). */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.EXECWARDEN_LOG_LEVEL ?? 'info';
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino({ name: 'execwarden', level, base: { pid: process.pid } }, destination);
}
