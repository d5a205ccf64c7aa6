/**
 * What `install` checks before it points a root-started service at this package: the service runs
 * the package's code with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (that code can trace any process
 * and read any file), so whoever can change a file it runs or reads, or a directory on the way to
 * one, owns the host. Every such file and directory must be owned by root and not writable by
 * group or others; a group-writable mode also shows an ACL granting write to anyone (the mask).
 *
 * What counts:
 * - every directory from / down to the package root, and the package root itself. Because these
 *   are all root's, nobody else can add a node_modules or package.json that Node would find while
 *   resolving a module from the package;
 * - inside the package, everything the service runs or reads: bin/, dist/, node_modules/, rules/,
 *   systemd/ and prebuilds/ (the prebuilt addons a packed tarball carries) with all they contain,
 *   build/Release/*.node and package.json;
 * - the node executable the unit runs, and the directories above it.
 *
 * Symbolic links are followed the way the kernel resolves them, one component at a time: the
 * directory holding a link must be safe (the link itself cannot be changed then), and so must
 * every directory and file the target path goes through, hop after hop. A link to a directory is
 * walked as part of the tree (once, however many links lead to it). A missing component ends the
 * path without a problem: its parent, already checked, lets only root create it.
 *
 * A package or node under /tmp, /var/tmp or /dev/shm (temporaryDirOf) is refused before anything
 * else, by install.ts: the unit's PrivateTmp=yes gives the service its own empty /tmp and /var/tmp
 * (and a package there is one any user could have prepared). The walk is bounded
 * (DEFAULT_GUARD_LIMITS): past `maxEntries` it stops and says so rather than spending minutes in a
 * huge node_modules.
 *
 * The file system is read through GuardFs, so tests run the rules on fixture trees of any owner
 * and size without root.
 */
import { lstatSync, opendirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOCAL_ADDON_DIR, PREBUILDS_DIR } from '../capture/native.js';

export interface GuardLimits {
  maxEntries: number;
  maxSymlinkHops: number;
  maxProblemsKept: number;
}

export const DEFAULT_GUARD_LIMITS: Readonly<GuardLimits> = Object.freeze({
  /** Directory entries examined in all (a checkout's node_modules holds a few thousand). */
  maxEntries: 250_000,
  /** Symbolic links followed while resolving one path, as the kernel's ELOOP limit. */
  maxSymlinkHops: 40,
  /** Problems kept for the message; the rest are only counted. */
  maxProblemsKept: 10,
});

/** Directories the unit's PrivateTmp=yes replaces (and /dev/shm, as world-writable). */
export const TEMPORARY_DIRS: readonly string[] = Object.freeze(['/tmp', '/var/tmp', '/dev/shm']);

/** Folders of the package the service runs or reads, checked with everything inside them. */
export const SERVICE_TREES: readonly string[] = Object.freeze(['bin', 'dist', 'node_modules', 'rules', 'systemd', PREBUILDS_DIR]);
/** Single files of the package the service reads. */
export const SERVICE_FILES: readonly string[] = Object.freeze(['package.json']);
/** Folders whose `*.node` files (the native addon) the service loads. */
export const ADDON_DIRS: readonly string[] = Object.freeze([LOCAL_ADDON_DIR]);

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

/** What the checks need to know of one directory entry, without following a symlink. */
export interface EntryFacts {
  type: EntryType;
  uid: number;
  /** st_mode's permission bits (and the sticky, setuid and setgid bits). */
  mode: number;
}

export interface GuardFs {
  /** The entry at `path` itself (lstat), or null when it does not exist. */
  lstat(path: string): EntryFacts | null;
  readlink(path: string): string;
  /** The names in a directory, read lazily so that a stopped walk reads no further. */
  list(path: string): Iterable<string>;
}

export const realGuardFs: GuardFs = {
  lstat(path) {
    try {
      const stat = lstatSync(path);
      const type: EntryType = stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
      return { type, uid: stat.uid, mode: stat.mode & 0o7777 };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw error;
    }
  },
  readlink: (path) => readlinkSync(path),
  *list(path) {
    const dir = opendirSync(path);
    try {
      for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) yield entry.name;
    } finally {
      dir.closeSync();
    }
  },
};

export interface GuardProblem {
  path: string;
  /** Why the path is unsafe, e.g. "owned by uid 1000, not root". */
  reason: string;
}

export interface GuardReport {
  /** The first problems found (at most maxProblemsKept). */
  problems: GuardProblem[];
  /** All problems found, kept or not. */
  problemCount: number;
  /** Directory entries examined. */
  entries: number;
  /** Set when the walk stopped at maxEntries: the directory it was reading. */
  stoppedIn: string | null;
}

/** The temporary directory `path` lies in, or null. Compares the path as given. */
export function temporaryDirOf(path: string): string | null {
  const absolute = resolve(path);
  return TEMPORARY_DIRS.find((dir) => absolute === dir || absolute.startsWith(`${dir}/`)) ?? null;
}

function describeMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** Why an entry is unsafe to hand to the service, or null. */
export function unsafeReason(facts: EntryFacts): string | null {
  if (facts.type === 'other') return 'is not a regular file, directory or symbolic link';
  if (facts.uid !== 0) return `is owned by uid ${facts.uid}, not root`;
  const writers = [facts.mode & 0o020 ? 'group' : '', facts.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (writers.length > 0) return `is writable by ${writers.join(' and ')} (mode ${describeMode(facts.mode)})`;
  return null;
}

class StopWalk extends Error {}

function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** One run of the checks; remembers what it has seen, so shared ancestors are read once. */
class Guard {
  private readonly facts = new Map<string, EntryFacts | null>();
  private readonly judged = new Set<string>();
  private readonly walked = new Set<string>();
  readonly report: GuardReport = { problems: [], problemCount: 0, entries: 0, stoppedIn: null };

  constructor(
    private readonly fs: GuardFs,
    private readonly limits: GuardLimits,
  ) {}

  private lstat(path: string): EntryFacts | null {
    let facts = this.facts.get(path);
    if (facts === undefined) {
      try {
        facts = this.fs.lstat(path);
      } catch (error) {
        this.problem(path, `cannot be examined (${errorCode(error)})`);
        facts = null;
      }
      this.facts.set(path, facts);
    }
    return facts;
  }

  private readlink(path: string): string[] | null {
    try {
      return this.fs.readlink(path).split('/');
    } catch (error) {
      this.problem(path, `cannot be read (${errorCode(error)})`);
      return null;
    }
  }

  /** The names in `dir`, each counted against maxEntries. */
  private *entries(dir: string): Iterable<string> {
    let names: Iterator<string>;
    try {
      names = this.fs.list(dir)[Symbol.iterator]();
    } catch (error) {
      this.problem(dir, `cannot be listed (${errorCode(error)})`);
      return;
    }
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = names.next();
      } catch (error) {
        this.problem(dir, `cannot be listed (${errorCode(error)})`);
        return;
      }
      if (next.done) return;
      if (++this.report.entries > this.limits.maxEntries) {
        this.report.stoppedIn = dir;
        names.return?.();
        throw new StopWalk();
      }
      yield next.value;
    }
  }

  problem(path: string, reason: string): void {
    this.report.problemCount++;
    if (this.report.problems.length < this.limits.maxProblemsKept) this.report.problems.push({ path, reason });
  }

  private judge(path: string, facts: EntryFacts): void {
    if (this.judged.has(path)) return;
    this.judged.add(path);
    const reason = unsafeReason(facts);
    if (reason !== null) this.problem(path, reason);
  }

  /**
   * Resolves `components` starting in the directory `from` (a real, already judged path),
   * judging each entry met on the way, links followed. Returns the real path and its facts, or
   * null when a component does not exist (or a link loops, which is a problem of its own).
   */
  private resolveFrom(from: string, components: string[], shownAs: string): { path: string; facts: EntryFacts } | null {
    // an absolute path (a leading empty component) starts at the root
    let current = components[0] === '' ? '/' : from;
    let currentFacts = this.lstat(current);
    const pending = [...components];
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        current = current === '/' ? '/' : current.slice(0, current.lastIndexOf('/')) || '/';
        currentFacts = this.lstat(current);
        continue;
      }
      if (currentFacts !== null && currentFacts.type !== 'directory') return null;
      const next = childPath(current, name);
      const facts = this.lstat(next);
      if (facts === null) return null;
      if (facts.type === 'symlink') {
        if (++hops > this.limits.maxSymlinkHops) {
          this.problem(shownAs, `resolves through more than ${this.limits.maxSymlinkHops} symbolic links`);
          return null;
        }
        const target = this.readlink(next);
        if (target === null) return null;
        pending.unshift(...target);
        if (target[0] === '') {
          // an absolute target starts over at the root
          current = '/';
          currentFacts = this.lstat('/');
        }
        continue;
      }
      this.judge(next, facts);
      current = next;
      currentFacts = facts;
    }
    return currentFacts === null ? null : { path: current, facts: currentFacts };
  }

  /** Judges a path and everything on the way to it; returns what it resolves to. */
  resolvePath(path: string): { path: string; facts: EntryFacts } | null {
    const root = this.lstat('/');
    if (root !== null) this.judge('/', root);
    return this.resolveFrom('/', resolve(path).split('/'), path);
  }

  /** Judges a directory tree (the directory itself must already be resolved and judged). */
  walk(top: string): void {
    if (this.walked.has(top)) return;
    this.walked.add(top);
    const stack = [top];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      for (const name of this.entries(dir)) {
        const path = childPath(dir, name);
        const facts = this.lstat(path);
        if (facts === null) continue; // removed while we read
        let real: { path: string; facts: EntryFacts } | null = { path, facts };
        if (facts.type === 'symlink') {
          const target = this.readlink(path);
          real = target === null ? null : this.resolveFrom(dir, target, path);
        } else {
          this.judge(path, facts);
        }
        if (real !== null && real.facts.type === 'directory' && !this.walked.has(real.path)) {
          this.walked.add(real.path);
          stack.push(real.path);
        }
      }
    }
  }

  /** Judges the `*.node` files of a directory. */
  addons(dir: string): void {
    for (const name of this.entries(dir)) {
      if (name.endsWith('.node')) this.resolvePath(childPath(dir, name));
    }
  }
}

export interface ServiceFiles {
  /** The package directory (absolute). */
  packageRoot: string;
  /** The node executable the unit runs (absolute). */
  nodePath: string;
}

/** Checks everything the service runs or reads (see the module header). Never throws for findings. */
export function checkServiceFiles(
  files: ServiceFiles,
  fs: GuardFs = realGuardFs,
  limits: GuardLimits = DEFAULT_GUARD_LIMITS,
): GuardReport {
  const guard = new Guard(fs, limits);
  try {
    guard.resolvePath(files.nodePath);
    const root = guard.resolvePath(files.packageRoot);
    if (root === null || root.facts.type !== 'directory') return guard.report;
    for (const name of SERVICE_FILES) guard.resolvePath(join(root.path, name));
    for (const name of SERVICE_TREES) {
      const tree = guard.resolvePath(join(root.path, name));
      if (tree !== null && tree.facts.type === 'directory') guard.walk(tree.path);
    }
    for (const name of ADDON_DIRS) {
      const dir = guard.resolvePath(join(root.path, name));
      if (dir !== null && dir.facts.type === 'directory') guard.addons(dir.path);
    }
  } catch (error) {
    if (!(error instanceof StopWalk)) throw error;
  }
  return guard.report;
}

/** The real path of `path` as the guard resolves it (links followed), or null when it is missing. */
export function resolveReal(path: string, fs: GuardFs = realGuardFs, limits: GuardLimits = DEFAULT_GUARD_LIMITS): string | null {
  return new Guard(fs, limits).resolvePath(path)?.path ?? null;
}
