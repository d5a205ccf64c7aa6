/**
 * The one typed view of the native addon (build/Release/execwarden_native.node). Everything else
 * in TypeScript reaches the proc connector through this file, so the addon's surface is declared
 * once, here, and loaded from explicit paths (no `bindings`-style search) with an actionable error.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ExecwardenError } from '../errors.js';
import type { CaptureOptions, CaptureStats, ProcSnapshot, RawEvent } from './raw-event.js';
import { decodeEvents, decodeSnapshot } from './packed.js';

/** Bits of the `losses` argument of a batch callback: what was lost since the previous batch. */
export const LOSS_OVERFLOW = 1;
export const LOSS_SEQUENCE_GAP = 2;
export const LOSS_BATCH_DROPPED = 4;

export interface NativeMonitorOptions extends CaptureOptions {
  /** How long start() waits for the kernel's ack to the subscription. Default 2000. */
  ackTimeoutMs?: number;
}

export interface NativeStartInfo {
  /** What the kernel granted (it doubles the request); forcedBuffer: SO_RCVBUFFORCE was allowed. */
  receiveBufferBytes: number;
  forcedBuffer: boolean;
  realtime: boolean;
  /** Why SCHED_FIFO was refused (strerror), or null. */
  realtimeError: string | null;
  /** Execs arrive on a socket of their own (CaptureOptions.splitExec granted). */
  splitExec: boolean;
}

export interface NativeStats extends CaptureStats {
  /** Set when the reader thread stopped on an unexpected error. */
  readerError: string | null;
  /** The reader thread dropped the capabilities it was asked to drop (dropCapabilities). */
  readerCapabilitiesDropped: boolean;
  /** Exec snapshots taken, and nanoseconds spent in their urgent and second halves. */
  snapshotsTaken: number;
  snapshotUrgentNs: number;
  snapshotRestNs: number;
}

export interface NativeProcMonitor {
  /**
   * Subscribes synchronously (throws an Error with `code` 'EPERM', 'ESUBSCRIBE_TIMEOUT', 'ENETNS',
   * 'ECONNECTOR', or for a failure of the reader's own resources 'ESYSTEM' (with `errno`),
   * 'ENOMEM' or 'ENATIVE'), then delivers batches on the JS thread. `onStopped` runs once the last
   * batch has been delivered after stop().
   */
  start(onBatch: (events: ArrayBuffer, snapshots: ArrayBuffer, values: unknown[], losses: number) => void, onStopped?: () => void): NativeStartInfo;
  /** Wakes and joins the reader thread; queued batches are still delivered. Idempotent. */
  stop(): void;
  stats(): NativeStats;
}

export interface DecodedDatagram {
  events: RawEvent[];
  acks: Array<{ cpu: number; seq: number; ack: number; err: number }>;
  accepted: number;
  rejected: number;
}

export interface NativeAddon {
  ProcMonitor: new (options?: NativeMonitorOptions) => NativeProcMonitor;
  /** The datagram decoder on crafted bytes (tests only). */
  decodeForTest(bytes: Buffer, senderPort: number): DecodedDatagram;
  /**
   * Drops the capabilities (by number) from the calling JS thread and clears its ambient set.
   * Irreversible; throws an Error with `code` 'ESYSTEM' when the kernel refuses.
   */
  dropCapabilities(caps: number[]): void;
  /**
   * SIGKILL through a pidfd, only if `pid` still holds the process that started at `startTicks`
   * (native/process_kill.h); `procRoot` names a fixture tree in tests.
   */
  killProcess(pid: number, startTicks: number, procRoot?: string): { outcome: 'killed' | 'gone' | 'pid_reused' | 'kernel_thread' | 'unsupported' | 'failed'; errno: number };
  /** sd_notify(3) to $NOTIFY_SOCKET: 'no-socket' when there is none; throws 'ESYSTEM' when sending fails. */
  notifySystemd(state: string): 'sent' | 'no-socket';
  /** The reader's snapshot of one process, taken on the calling thread; procRoot may name a fixture tree (tests only). */
  snapshotForTest(
    pid: number | number[],
    options?: Pick<CaptureOptions, 'cmdlineMaxBytes' | 'envVars' | 'envScanMaxBytes' | 'envValueMaxBytes' | 'envMaxEntries'> & { procRoot?: string; argsCountMaxBytes?: number; cmdlineTailBytes?: number; stdio?: boolean; procnetMaxBytes?: number; socketScanBudgetMs?: number },
  ): ProcSnapshot & { stale: boolean; commRenamed: boolean; stdioStats?: StdioStats };
}

type SnapshotForTestOptions = Parameters<NativeAddon['snapshotForTest']>[1];
type StdioStats = { socketCacheHits: number; socketListingScans: number; socketLookupsOverBudget: number };

/** What the .node file exports: NativeAddon, with the test decoders' results packed (packed.ts). */
interface PackedNativeAddon extends Omit<NativeAddon, 'decodeForTest' | 'snapshotForTest'> {
  decodeForTest(bytes: Buffer, senderPort: number): Omit<DecodedDatagram, 'events'> & { events: ArrayBuffer; values: unknown[] };
  snapshotForTest(pid: number | number[], options?: SnapshotForTestOptions): { snapshots: ArrayBuffer; values: unknown[]; stdioStats?: StdioStats };
}

/** The addon with its test decoders' results unpacked, as the rest of the code sees it. */
function unpacked(addon: PackedNativeAddon): NativeAddon {
  return {
    ...addon,
    decodeForTest(bytes, senderPort) {
      const { events, values, ...rest } = addon.decodeForTest(bytes, senderPort);
      return { events: decodeEvents(events, new ArrayBuffer(0), values), ...rest };
    },
    snapshotForTest(pid, options) {
      const { snapshots, values, stdioStats } = addon.snapshotForTest(pid, options);
      const snapshot = decodeSnapshot(snapshots, values);
      return { ...snapshot, stale: snapshot.stale === true, commRenamed: snapshot.commRenamed === true, ...(stdioStats ? { stdioStats } : {}) };
    },
  };
}

/** The addon's file name, and where it lies relative to the package root when built here. */
export const ADDON_BASENAME = 'execwarden_native.node';
export const LOCAL_ADDON_DIR = path.join('build', 'Release');
/** The folder of the stripped prebuilt addons the npm tarball and the Debian package ship. */
export const PREBUILDS_DIR = 'prebuilds';

/** The prebuilt addon for a platform and CPU (`linux-x64`), relative to the package root. */
export function prebuiltAddonPath(target: string): string {
  return path.join(PREBUILDS_DIR, target, ADDON_BASENAME);
}

/**
 * Where the addon may be, in the order tried: first the stripped prebuilt shipped for this
 * platform and CPU (`prebuilds/linux-x64/`, in the npm tarball and the Debian package), then a
 * local build (`build/Release/`: a checkout, or a source build when no prebuilt fits). From
 * src/capture (tests, tsx) the package root is two levels up; from dist/src/capture, three.
 */
export function addonCandidates(fromUrl: string = import.meta.url, target = `${process.platform}-${process.arch}`): string[] {
  const here = path.dirname(fileURLToPath(fromUrl));
  const roots = [path.resolve(here, '..', '..'), path.resolve(here, '..', '..', '..')];
  const prebuilt = prebuiltAddonPath(target);
  const local = path.join(LOCAL_ADDON_DIR, ADDON_BASENAME);
  return [...roots.map((root) => path.join(root, prebuilt)), ...roots.map((root) => path.join(root, local))];
}

let loaded: NativeAddon | undefined;

export function loadNativeAddon(): NativeAddon {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const present = candidates.filter((candidate) => existsSync(candidate));
  const howToBuild =
    'npm run build:native in a checkout, npm rebuild execwarden in an installed package (needs cmake, g++ and make)';
  if (present.length === 0) {
    throw new ExecwardenError(
      'ADDON_NOT_BUILT',
      `the native addon is not built (looked for ${candidates.join(', ')}): build it with ${howToBuild}`,
    );
  }
  // A prebuilt addon that does not load here (an older glibc or libstdc++, another libc) gives
  // way to a local build of the same addon, when there is one.
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  let lastCause: unknown;
  for (const candidate of present) {
    try {
      loaded = unpacked(require(candidate) as PackedNativeAddon);
      return loaded;
    } catch (cause) {
      lastCause = cause;
      failures.push(`${candidate}: ${(cause as Error).message}`);
    }
  }
  throw new ExecwardenError(
    'ADDON_LOAD_FAILED',
    `could not load the native addon (${failures.join('; ')}): build it for this host with ${howToBuild}`,
    { cause: lastCause },
  );
}
