/**
 * The catalogue on paper: every class in every launch form, payloads that can reach nothing but the
 * lab's own listener, markers where alerts can find them, and requirements that name every program
 * a command line runs. Running the variants for real is simulation.test.ts's job.
 */
import { describe, expect, it } from 'vitest';
import { LAUNCH_FORMS, SHELL_CLASSES } from '../../src/lab/reverse-shell-classes.js';
import { type LabVariant, LAB_VARIANTS, type Launch, type LibraryRequirement, missingTools, SEED_RULE_ID } from '../../src/lab/variants.js';

const PORT = 47913;
const MARKER = 'lab-marker-under-test';
const SCRATCH = '/tmp/execwarden-lab-test';

/** The variant's launch against the test target, and every tool it asked to resolve. */
function launchOf(variant: LabVariant): { launch: Launch; text: string; resolved: string[] } {
  const resolved: string[] = [];
  const launch = variant.launch({
    port: PORT,
    marker: MARKER,
    scratchDir: SCRATCH,
    tool: (name) => {
      resolved.push(name);
      return `/usr/bin/${name}`;
    },
  });
  resolved.push(...(launch.copies ?? []).map(([source]) => source));
  return { launch, text: [launch.file, ...launch.args].join('\n'), resolved };
}

const classVariants = LAB_VARIANTS.filter((v) => v.form !== undefined);

describe('the reverse-shell classes', () => {
  it('cover every class in every launch form, each with a rule that must fire', () => {
    for (const shellClass of SHELL_CLASSES) {
      for (const form of LAUNCH_FORMS) {
        const found = classVariants.filter((v) => v.shellClass === shellClass && v.form === form && v.expectAlert);
        expect(found.length, `${shellClass} × ${form}`).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('have benign look-alikes in every form, which must raise nothing', () => {
    const lookAlikes = classVariants.filter((v) => !v.expectAlert);
    const classes = new Set(lookAlikes.map((v) => v.shellClass));
    for (const shellClass of ['netcat', 'socat', 'python', 'perl', 'php', 'ruby', 'lua', 'node', 'fifo'] as const) {
      expect(classes, shellClass).toContain(shellClass);
      for (const form of LAUNCH_FORMS) {
        expect(lookAlikes.some((v) => v.shellClass === shellClass && v.form === form), `${shellClass} × ${form}`).toBe(true);
      }
    }
    for (const v of lookAlikes) expect(v.mustNotFire, v.name).toBe('any');
  });

  it('keep the seed rule to the /dev/tcp class', () => {
    for (const v of LAB_VARIANTS.filter((v) => v.shellClass !== 'dev-tcp')) expect(v.mustFire, v.name).not.toContain(SEED_RULE_ID);
  });

  it('name variants after spelling and form', () => {
    for (const v of classVariants.filter((v) => v.name !== 'bash-setsid')) expect(v.name, v.name).toMatch(new RegExp(`-${v.form}$`));
  });
});

describe('every variant', () => {
  it.each(LAB_VARIANTS.map((v) => [v.name, v] as const))('%s talks only to 127.0.0.1 on the given port', (_name, variant) => {
    // The node running the lab may live in a versioned directory; its path is no address.
    const text = launchOf(variant).text.replaceAll(process.execPath, 'node');
    // Any other IPv4 address, host name or port would show here.
    for (const address of text.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? []) expect(address).toBe('127.0.0.1');
    expect(text).not.toMatch(/localhost|::1|\[::|inet6|\budp\b/i);
    const numbers = (text.replaceAll('127.0.0.1', '').match(/\d{3,}/g) ?? []).filter((n) => n !== String(PORT));
    expect(numbers).toEqual([]);
    if (variant.connects) {
      // Each mention of the address comes with the port right next to it, whatever the syntax.
      for (const at of [...text.matchAll(/127\.0\.0\.1/g)].map((m) => m.index)) {
        expect(text.slice(Math.max(0, at - 12), at + 9 + 12), variant.name).toContain(String(PORT));
      }
      expect(text).toContain('127.0.0.1');
    }
  });

  it.each(LAB_VARIANTS.map((v) => [v.name, v] as const))('%s carries its marker where a shell or interpreter keeps it', (_name, variant) => {
    const { launch, text } = launchOf(variant);
    expect(text).toMatch(new RegExp(`(#|--|//)${MARKER}`));
    if (variant.form === undefined) return;
    const line = launch.args[1]!;
    // A marker comment must not swallow what the form puts after the one-liner.
    if (variant.form === 'setsid') expect(line).toMatch(new RegExp(`^setsid .*; exit 0( #${MARKER})?$`, 's'));
    if (variant.form === 'nohup') expect(line).toMatch(new RegExp(`^nohup .* &( #${MARKER})?$`, 's'));
    if (variant.form === 'bare') expect(line).not.toMatch(/^(setsid|nohup) /);
    expect(launch.file).toBe('/usr/bin/bash');
    expect(launch.args[0]).toBe('-c');
  });

  it('lists every program its command line runs in requires', () => {
    const programs = new Set(LAB_VARIANTS.flatMap((v) => v.requires));
    for (const variant of LAB_VARIANTS) {
      const { text, resolved } = launchOf(variant);
      const line = text.replaceAll(SCRATCH, '').replaceAll(process.execPath, '');
      // A program name where a command starts: after a blank, a path, a separator or a quote
      // (socat's `setsid` option, after a comma, is no command).
      const run = [...programs].filter((p) => new RegExp(`(^|[\\s/;|&('"\`])${p.replaceAll('.', '\\.')}($|[\\s'"\`;|&)])`, 'm').test(line));
      expect(variant.requires, variant.name).toEqual(expect.arrayContaining([...run, ...resolved]));
    }
  });

  it('names lua-socket where lua code loads the socket library', () => {
    for (const variant of LAB_VARIANTS) {
      const { text } = launchOf(variant);
      const loadsSocket = /lua5\.1 -e .*require\("socket"\)/s.test(text);
      expect((variant.libraries ?? []).map((l) => l.name), variant.name).toEqual(loadsSocket ? ['lua-socket'] : []);
    }
  });
});

describe('missingTools', () => {
  const variant = (name: string): LabVariant => LAB_VARIANTS.find((v) => v.name === name)!;
  const installed = (names: string[]) => (name: string) => (names.includes(name) ? `/usr/bin/${name}` : null);

  it('names the executables that are not installed', () => {
    expect(missingTools(variant('php-exec-setsid'), installed(['bash', 'setsid', 'sh']), () => true)).toEqual(['php']);
    expect(missingTools(variant('php-exec-setsid'), installed(['bash', 'setsid', 'sh', 'php']), () => true)).toEqual([]);
  });

  it('names a library its interpreter cannot load, once the interpreter is there', () => {
    const loads = (library: LibraryRequirement) => library.name !== 'lua-socket';
    expect(missingTools(variant('lua-execute-bare'), installed(['bash', 'sh', 'lua5.1']), loads)).toEqual(['lua-socket']);
    expect(missingTools(variant('lua-execute-bare'), installed(['bash', 'sh']), loads)).toEqual(['lua5.1']);
    expect(missingTools(variant('lua-execute-bare'), installed(['bash', 'sh', 'lua5.1']), () => true)).toEqual([]);
  });
});
