/**
 * The run action's SIGHUP subscription on the live proc connector: it must cover start-up and the
 * drain (with no listener a SIGHUP ends the process), carry out a reload requested during start-up
 * once the agent runs, and ignore one requested during the drain.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '../../src/agent/logger.js';
import { runAction } from '../../src/cli/run.js';
import { describeAsRoot } from '../support/require-root.js';

describeAsRoot('run action reload subscription (live)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'execwarden-run-action-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('listens for reloads from before start-up until after the drain', async () => {
    const config = join(dir, 'config.toml');
    writeFileSync(config, '');
    const messages: string[] = [];
    const logSink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push(String((JSON.parse(line) as { msg: string }).msg));
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination: logSink });
    const controller = new AbortController();
    const seen: { atSubscribe?: string[]; atUnsubscribe?: string[]; drainReloadBeforeUnsubscribe?: boolean } = {};

    const status = await runAction(
      { config, realtime: false },
      { stdout: new PassThrough(), stderr: new PassThrough(), signal: controller.signal },
      {
        logger,
        onReload: (reload) => {
          seen.atSubscribe = [...messages];
          reload(); // a SIGHUP during start-up
          const started = setInterval(() => {
            if (!messages.some((m) => m.startsWith('rules reloaded'))) return;
            clearInterval(started);
            controller.abort();
            // A SIGHUP during the drain: the stop has begun by the next turn of the loop.
            setImmediate(() => {
              seen.drainReloadBeforeUnsubscribe = seen.atUnsubscribe === undefined;
              reload();
            });
          }, 10);
          return () => {
            seen.atUnsubscribe = [...messages];
          };
        },
      },
    );

    expect(status).toBe(0);
    expect(seen.atSubscribe?.some((m) => m.startsWith('execwarden started'))).toBe(false);
    expect(seen.atUnsubscribe?.some((m) => m.startsWith('execwarden stopped'))).toBe(true);
    expect(seen.drainReloadBeforeUnsubscribe).toBe(true);
    // Exactly the start-up request was carried out; the one during the drain was ignored.
    expect(messages.filter((m) => m.startsWith('SIGHUP'))).toHaveLength(1);
    expect(messages.filter((m) => m.startsWith('rules reloaded'))).toHaveLength(1);
  });
});
