/**
 * The install guard on fixture trees: owners, modes, links and sizes that a real file system
 * would need root (or minutes) to build. The real file system is exercised in install.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  checkServiceFiles,
  DEFAULT_GUARD_LIMITS,
  type EntryFacts,
  type GuardFs,
  resolveReal,
  temporaryDirOf,
  unsafeReason,
} from '../../src/cli/install-guard.js';

type FixtureEntry = EntryFacts & { target?: string };

/** An in-memory tree: every entry root-owned, directories 0755 and files 0644 unless said otherwise. */
class FixtureFs implements GuardFs {
  readonly entries = new Map<string, FixtureEntry>([['/', { type: 'directory', uid: 0, mode: 0o755 }]]);
  listed = 0;

  dir(path: string, facts: Partial<EntryFacts> = {}): this {
    this.parents(path);
    this.entries.set(path, { type: 'directory', uid: 0, mode: 0o755, ...facts });
    return this;
  }

  file(path: string, facts: Partial<EntryFacts> = {}): this {
    this.parents(path);
    this.entries.set(path, { type: 'file', uid: 0, mode: 0o644, ...facts });
    return this;
  }

  link(path: string, target: string, facts: Partial<EntryFacts> = {}): this {
    this.parents(path);
    this.entries.set(path, { type: 'symlink', uid: 0, mode: 0o777, ...facts, target });
    return this;
  }

  private parents(path: string): void {
    const parts = path.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (!this.entries.has(dir)) this.entries.set(dir, { type: 'directory', uid: 0, mode: 0o755 });
    }
  }

  lstat(path: string): EntryFacts | null {
    const entry = this.entries.get(path);
    if (!entry) return null;
    return { type: entry.type, uid: entry.uid, mode: entry.mode };
  }

  readlink(path: string): string {
    const target = this.entries.get(path)?.target;
    if (target === undefined) throw Object.assign(new Error('not a link'), { code: 'EINVAL' });
    return target;
  }

  *list(path: string): Iterable<string> {
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const key of this.entries.keys()) {
      if (key !== path && key.startsWith(prefix) && !key.slice(prefix.length).includes('/')) {
        this.listed++;
        yield key.slice(prefix.length);
      }
    }
  }
}

const PKG = '/opt/execwarden';
const NODE = '/usr/bin/node';

/** A small, clean installation: node and a package with every folder the service uses. */
function cleanInstall(): FixtureFs {
  return new FixtureFs()
    .file(NODE, { mode: 0o755 })
    .file(`${PKG}/package.json`)
    .file(`${PKG}/bin/execwarden.js`, { mode: 0o755 })
    .file(`${PKG}/dist/src/cli/main.js`)
    .file(`${PKG}/build/Release/execwarden_native.node`, { mode: 0o755 })
    .file(`${PKG}/node_modules/pino/package.json`)
    .file(`${PKG}/node_modules/pino/pino.js`)
    .link(`${PKG}/node_modules/.bin/pino`, '../pino/pino.js')
    .file(`${PKG}/rules/seed.toml`)
    .file(`${PKG}/systemd/execwarden.service`);
}

function check(fs: FixtureFs, limits = DEFAULT_GUARD_LIMITS) {
  return checkServiceFiles({ packageRoot: PKG, nodePath: NODE }, fs, limits);
}

function problemsOf(fs: FixtureFs): string[] {
  return check(fs).problems.map((p) => `${p.path} ${p.reason}`);
}

describe('unsafeReason', () => {
  it('accepts root-owned entries that only root can write, whatever else they allow', () => {
    expect(unsafeReason({ type: 'file', uid: 0, mode: 0o644 })).toBeNull();
    expect(unsafeReason({ type: 'file', uid: 0, mode: 0o4755 })).toBeNull();
    expect(unsafeReason({ type: 'directory', uid: 0, mode: 0o700 })).toBeNull();
  });

  it('names the owner, the writers with the mode, and special files', () => {
    expect(unsafeReason({ type: 'file', uid: 1000, mode: 0o644 })).toBe('is owned by uid 1000, not root');
    expect(unsafeReason({ type: 'file', uid: 0, mode: 0o664 })).toBe('is writable by group (mode 0664)');
    expect(unsafeReason({ type: 'directory', uid: 0, mode: 0o757 })).toBe('is writable by others (mode 0757)');
    // /tmp's own mode: sticky, but anyone can still add entries
    expect(unsafeReason({ type: 'directory', uid: 0, mode: 0o1777 })).toBe('is writable by group and others (mode 1777)');
    expect(unsafeReason({ type: 'other', uid: 0, mode: 0o600 })).toBe('is not a regular file, directory or symbolic link');
  });
});

describe('temporaryDirOf', () => {
  it('finds /tmp, /var/tmp and /dev/shm, and nothing that only starts with their names', () => {
    expect(temporaryDirOf('/tmp/pkg')).toBe('/tmp');
    expect(temporaryDirOf('/tmp')).toBe('/tmp');
    expect(temporaryDirOf('/var/tmp/a/b')).toBe('/var/tmp');
    expect(temporaryDirOf('/dev/shm/x')).toBe('/dev/shm');
    expect(temporaryDirOf('/opt/../tmp/x')).toBe('/tmp');
    expect(temporaryDirOf('/tmpfs/pkg')).toBeNull();
    expect(temporaryDirOf('/opt/tmp/pkg')).toBeNull();
  });
});

describe('checkServiceFiles', () => {
  it('passes a clean installation and counts what it examined', () => {
    const report = check(cleanInstall());
    expect(report.problems).toEqual([]);
    expect(report.problemCount).toBe(0);
    expect(report.stoppedIn).toBeNull();
    expect(report.entries).toBeGreaterThan(5);
  });

  it('names a non-root file deep inside node_modules, and a group-writable rule folder', () => {
    const fs = cleanInstall().file(`${PKG}/node_modules/pino/lib/tools.js`, { uid: 1000 }).dir(`${PKG}/rules`, { mode: 0o775 });
    expect(problemsOf(fs).sort()).toEqual([
      `${PKG}/node_modules/pino/lib/tools.js is owned by uid 1000, not root`,
      `${PKG}/rules is writable by group (mode 0775)`,
    ]);
  });

  it('checks every directory from / down to the package, and the package root itself', () => {
    expect(problemsOf(cleanInstall().dir('/opt', { mode: 0o777 }))).toEqual(['/opt is writable by group and others (mode 0777)']);
    expect(problemsOf(cleanInstall().dir(PKG, { uid: 1000 }))).toEqual([`${PKG} is owned by uid 1000, not root`]);
    expect(problemsOf(cleanInstall().dir('/', { mode: 0o757 }))).toEqual(['/ is writable by others (mode 0757)']);
  });

  it('checks node and its directories', () => {
    expect(problemsOf(cleanInstall().file(NODE, { uid: 1000, mode: 0o755 }))).toEqual([`${NODE} is owned by uid 1000, not root`]);
    expect(problemsOf(cleanInstall().dir('/usr/bin', { mode: 0o775 }))).toEqual(['/usr/bin is writable by group (mode 0775)']);
  });

  it('checks package.json and the addons, but not the rest of build/ or folders the service never reads', () => {
    const fs = cleanInstall()
      .file(`${PKG}/package.json`, { mode: 0o666 })
      .file(`${PKG}/build/Release/execwarden_native.node`, { uid: 1000 })
      .file(`${PKG}/build/Release/obj.target/reader.o`, { uid: 1000 })
      .file(`${PKG}/build/CMakeCache.txt`, { uid: 1000 })
      .file(`${PKG}/src/cli/main.ts`, { uid: 1000 })
      .file(`${PKG}/test/x.test.ts`, { mode: 0o666 });
    expect(problemsOf(fs)).toEqual([
      `${PKG}/package.json is writable by group and others (mode 0666)`,
      `${PKG}/build/Release/execwarden_native.node is owned by uid 1000, not root`,
    ]);
    expect(problemsOf(cleanInstall().file(`${PKG}/prebuilds/linux-x64/execwarden_native.node`, { mode: 0o666 }))).toEqual([
      `${PKG}/prebuilds/linux-x64/execwarden_native.node is writable by group and others (mode 0666)`,
    ]);
    expect(problemsOf(cleanInstall().dir(`${PKG}/build/Release`, { mode: 0o777 }))).toEqual([
      `${PKG}/build/Release is writable by group and others (mode 0777)`,
    ]);
  });

  it('refuses special files in the tree', () => {
    expect(problemsOf(cleanInstall().file(`${PKG}/dist/fifo`, { type: 'other' }))).toEqual([
      `${PKG}/dist/fifo is not a regular file, directory or symbolic link`,
    ]);
  });
});

describe('checkServiceFiles: symbolic links', () => {
  it('judges what a link resolves to, not the link', () => {
    // the link's own owner and mode do not matter: nobody but root can replace it in a root-only folder
    expect(problemsOf(cleanInstall().link(`${PKG}/node_modules/.bin/pino`, '../pino/pino.js', { uid: 1000 }))).toEqual([]);
    const fs = cleanInstall().file(`${PKG}/node_modules/pino/pino.js`, { mode: 0o646 });
    expect(problemsOf(fs)).toEqual([`${PKG}/node_modules/pino/pino.js is writable by others (mode 0646)`]);
  });

  it('follows a linked package root to its real place and checks the way there', () => {
    const fs = cleanInstall();
    const moved = new FixtureFs();
    for (const [path, entry] of fs.entries) {
      if (path === PKG || path.startsWith(`${PKG}/`)) moved.entries.set(path.replace(PKG, '/srv/checkouts/execwarden'), entry);
      else moved.entries.set(path, entry);
    }
    moved.dir('/srv/checkouts', { uid: 1000 }).link(PKG, '/srv/checkouts/execwarden');
    expect(check(moved).problems.map((p) => `${p.path} ${p.reason}`)).toEqual(['/srv/checkouts is owned by uid 1000, not root']);
    expect(resolveReal(PKG, moved)).toBe('/srv/checkouts/execwarden');
  });

  it('checks the directory of every link in a chain, hop after hop', () => {
    // node -> /etc/alternatives/node -> /opt/node-20/bin/node, with /etc/alternatives writable
    const fs = cleanInstall()
      .link(NODE, '/etc/alternatives/node')
      .link('/etc/alternatives/node', '../../opt/node-20/bin/node')
      .file('/opt/node-20/bin/node', { mode: 0o755 })
      .dir('/etc/alternatives', { mode: 0o777 });
    expect(problemsOf(fs)).toEqual(['/etc/alternatives is writable by group and others (mode 0777)']);
    expect(resolveReal(NODE, fs)).toBe('/opt/node-20/bin/node');
  });

  it('walks a linked directory outside the package once, however many links lead to it', () => {
    const fs = cleanInstall()
      .file('/srv/shared-lib/index.js', { uid: 1000 })
      .link(`${PKG}/node_modules/shared-lib`, '/srv/shared-lib')
      .link(`${PKG}/node_modules/pino/node_modules/shared-lib`, '../../shared-lib');
    const report = check(fs);
    expect(report.problems.map((p) => p.path)).toEqual(['/srv/shared-lib/index.js']);
    expect(report.problemCount).toBe(1);
  });

  it('names a dangling link whose target someone else could create', () => {
    const fs = cleanInstall().dir('/home/ann', { uid: 1000 }).link(`${PKG}/node_modules/ann-lib`, '/home/ann/lib');
    expect(problemsOf(fs)).toEqual(['/home/ann is owned by uid 1000, not root']);
    // the same link into a root-only directory is harmless
    expect(problemsOf(cleanInstall().link(`${PKG}/node_modules/gone`, '/opt/nothing/here'))).toEqual([]);
  });

  it('stops at a link loop and says so', () => {
    const fs = cleanInstall().link(`${PKG}/node_modules/a`, 'b').link(`${PKG}/node_modules/b`, 'a');
    const reasons = problemsOf(fs);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/node_modules\/[ab] resolves through more than 40 symbolic links$/);
  });

  it('walks a link to the package itself without looping', () => {
    const report = check(cleanInstall().link(`${PKG}/node_modules/self`, '..'));
    expect(report.problems).toEqual([]);
    expect(report.stoppedIn).toBeNull();
  });
});

describe('checkServiceFiles: limits', () => {
  /** A clean installation whose node_modules holds `extra` more files. */
  function withFiles(extra: number): FixtureFs {
    const fs = cleanInstall();
    for (let i = 0; i < extra; i++) fs.file(`${PKG}/node_modules/pino/f${i}.js`);
    return fs;
  }

  it('examines up to maxEntries entries and stops at the next one, naming where', () => {
    const base = check(cleanInstall()).entries;
    const limits = { ...DEFAULT_GUARD_LIMITS, maxEntries: base + 50 };
    const atLimit = check(withFiles(50), limits);
    expect(atLimit.stoppedIn).toBeNull();
    expect(atLimit.entries).toBe(base + 50);
    const fs = withFiles(500);
    const past = check(fs, limits);
    expect(past.stoppedIn).toBe(`${PKG}/node_modules/pino`);
    expect(fs.listed).toBe(base + 51); // reading stopped there
  });

  it('keeps maxProblemsKept problems and counts the rest', () => {
    const fs = cleanInstall();
    for (let i = 0; i < 25; i++) fs.file(`${PKG}/dist/f${i}.js`, { mode: 0o666 });
    const report = check(fs);
    expect(report.problems).toHaveLength(DEFAULT_GUARD_LIMITS.maxProblemsKept);
    expect(report.problemCount).toBe(25);
  });

  it('is generous: the default limit is far above a real node_modules', () => {
    expect(DEFAULT_GUARD_LIMITS.maxEntries).toBeGreaterThanOrEqual(100_000);
    expect(Object.isFrozen(DEFAULT_GUARD_LIMITS)).toBe(true);
  });
});
