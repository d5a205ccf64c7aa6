/**
 * The target of a simulated reverse shell: a TCP server on 127.0.0.1, on a port the kernel picks.
 * Whatever connects is told `exit` and hung up on, so an interactive shell on the other end quits
 * at once. Nothing is read or executed from the connection.
 *
 * The answer comes after a short pause, as a person at a listener takes a moment before typing. A
 * reverse shell is only of use while its connection is open; one gone within a millisecond would
 * test something no attack does: the agent reads a shell's socket at exec, and that read cannot
 * describe a connection already closed and forgotten by the kernel.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface LoopbackListener {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Resolves true once `count` connections have been accepted and closed, false on timeout. */
  waitForClosedConnections(count: number, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A connection is cut after this long even if the peer never hangs up. */
const CONNECTION_LIMIT_MS = 3000;

/** How long after accepting a connection `exit` is sent. */
const ANSWER_DELAY_MS = 100;

/**
 * `answer: false` (the lab's response check) never sends `exit`: the shell stays connected until
 * the agent kills it, or until CONNECTION_LIMIT_MS cuts it.
 */
export async function openLoopbackListener(options: { answer?: boolean } = {}): Promise<LoopbackListener> {
  const answers = options.answer ?? true;
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => waiters.forEach((w) => w());

  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.setTimeout(CONNECTION_LIMIT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {}); // drain prompts and banners; never interpreted
    const answer = answers ? setTimeout(() => socket.end('exit\n'), ANSWER_DELAY_MS) : undefined;
    socket.on('close', () => {
      clearTimeout(answer);
      sockets.delete(socket);
      closed += 1;
      notify();
    });
    notify();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');

  return {
    port: address.port,
    connections: () => accepted,
    waitForClosedConnections(count, timeoutMs) {
      return new Promise((resolve) => {
        const check = (): void => {
          if (accepted >= count && closed >= count) finish(true);
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        const finish = (ok: boolean): void => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(ok);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
