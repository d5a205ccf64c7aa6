/**
 * Live capture for the real-kernel tests: the live source, the process table seeded from the real
 * /proc and the document builder, around a bash script. Other processes on the host report too,
 * so callers keep only their own shell's process tree (followed through the fork documents).
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { LiveSource } from '../../src/capture/live-source.js';
import type { CaptureOptions } from '../../src/capture/raw-event.js';
import { systemClock } from '../../src/clock.js';
import { loadHostInfo } from '../../src/ecs/host.js';
import type { EcsProcessEvent } from '../../src/ecs/process-event.js';
import { ProcessEventStream } from '../../src/ecs/process-event-stream.js';
import { namesToRead } from '../../src/process/environment.js';
import { RealProcFs, readCapabilityLastBit } from '../../src/process/procfs.js';
import { ecsProblems } from '../ecs/ecs-conformance.js';

export const BASH = realpathSync('/bin/bash');

/** Runs `bash -c script` to completion; resolves with the shell's pid. */
export function runBash(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(BASH, ['-c', script], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid ?? -1));
  });
}

/** Documents of `root` and of everything it forked, in stream order. */
export function treeDocs(docs: EcsProcessEvent[], root: number): EcsProcessEvent[] {
  const pids = new Set([root]);
  for (const doc of docs) {
    if (doc.event.action === 'fork' && pids.has(doc.process.parent?.pid ?? -1)) pids.add(doc.process.pid);
  }
  return docs.filter((doc) => pids.has(doc.process.pid));
}

export interface LiveCaptureOptions extends CaptureOptions {
  /** Environment variables written to process.env_vars (read as in the agent). */
  outputEnvVars?: string[];
}

/** Captures while `script` runs (plus `lingerMs` for what it left in the background). */
export async function capture(script: string, lingerMs = 150, options: LiveCaptureOptions = {}) {
  const { outputEnvVars = [], ...captureOptions } = options;
  const envRead = namesToRead(outputEnvVars);
  const stream = new ProcessEventStream({
    procfs: new RealProcFs({ envVars: envRead }),
    host: loadHostInfo(),
    clock: systemClock,
    envVars: outputEnvVars,
    capabilityLastBit: readCapabilityLastBit(),
  });
  stream.seed();
  const docs: EcsProcessEvent[] = [];
  const source = new LiveSource({ batchMaxAgeMs: 5, envVars: envRead, ...captureOptions });
  source.onLoss = () => stream.resync();
  await source.start((batch) => {
    for (const raw of batch) {
      const doc = stream.handle(raw);
      if (doc) docs.push(doc);
    }
  });
  let pid: number;
  try {
    pid = await runBash(script);
    await sleep(lingerMs);
  } finally {
    await source.stop();
  }
  // Every document of the host, not just ours, must be ECS as EcsFlat defines it.
  expect(docs.flatMap((doc) => ecsProblems(JSON.parse(JSON.stringify(doc))))).toEqual([]);
  const mine = treeDocs(docs, pid);
  // The shell's own exec (from the test runner) is not part of what the script did.
  const execs = mine.filter((d) => d.event.action === 'exec' && d.process.pid !== pid);
  return { pid, all: docs, docs: mine, execs, stats: stream.stats(), capture: source.stats() };
}
