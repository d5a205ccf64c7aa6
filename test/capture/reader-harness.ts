/**
 * Builds and runs test/capture/reader_harness.cc: the plain C++ reader (native/reader.cc and
 * below, no Node-API) in a program of its own, for failures JS cannot provoke through the addon.
 * The binary is cached under the temp directory by a hash of its sources and flags, so the unit
 * and kernel test files share one build; it is written under a temporary name and renamed, so
 * concurrent builders never see half a file.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { childRun, type ChildRun } from './native-child.js';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCES = ['native/reader.cc', 'native/proc_connector.cc', 'native/proc_snapshot.cc', 'native/stdio_probe.cc', 'native/privileges.cc', 'test/capture/reader_harness.cc'];
const HEADERS = ['native/reader.h', 'native/proc_connector.h', 'native/proc_snapshot.h', 'native/stdio_probe.h', 'native/proc_util.h', 'native/privileges.h'];
// The addon's warning flags, as errors: the harness compiles the very files the addon does.
const FLAGS = ['-std=c++17', '-O1', '-pthread', '-Wall', '-Wextra', '-Wpedantic', '-Wshadow', '-Werror', `-I${path.join(repo, 'native')}`];

/** Compiles the harness unless this exact build exists; returns the binary's path. */
export async function buildReaderHarness(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...SOURCES, ...HEADERS]) hash.update(file).update(readFileSync(path.join(repo, file)));
  hash.update(FLAGS.join(' '));
  const dir = path.join(tmpdir(), `execwarden-reader-harness-${hash.digest('hex').slice(0, 16)}`);
  const binary = path.join(dir, 'reader_harness');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const work = path.join(dir, `build-${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const objects = await Promise.all(
      SOURCES.map(async (source) => {
        const object = path.join(work, `${path.basename(source)}.o`);
        await run('g++', [...FLAGS, '-c', path.join(repo, source), '-o', object]);
        return object;
      }),
    );
    const linked = path.join(work, 'reader_harness');
    await run('g++', ['-pthread', ...objects, '-o', linked]);
    renameSync(linked, binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** Runs one mode of the harness; `args` follow the mode on its command line. */
export function runReaderHarness(binary: string, mode: string, timeoutMs = 15_000, args: readonly string[] = []): ChildRun {
  return childRun(spawnSync(binary, [mode, ...args], { encoding: 'utf8', timeout: timeoutMs }));
}
