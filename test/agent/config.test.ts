import { DEFAULT_ENV_VARS } from '../../src/process/environment.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig, parseListenAddress, resolveConfig } from '../../src/agent/config.js';

const dir = mkdtempSync(join(tmpdir(), 'execwarden-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('agent config', () => {
  it('runs on defaults when no file exists: bundled rules, NDJSON alerts on stdout', () => {
    const config = loadAgentConfig({}, join(dir, 'absent.toml'));
    expect(config.file).toBeNull();
    expect(config.rules).toEqual({ paths: [], exceptions: null, allowEmpty: false });
    expect(config.shutdown).toEqual({ drainMs: 5000 });
    expect(config.capture).toEqual({ receiveBufferBytes: 8 * 1024 * 1024, realtime: true, events: false, envVars: [...DEFAULT_ENV_VARS] });
    expect(config.outputs.stdout).toEqual({ format: 'ndjson', minSeverity: 'low' });
    expect(config.metrics.listen).toBeNull();
    expect(config.alerts).toEqual({ floodWindowMs: 60_000, floodBudget: 20 });
  });

  it('reads the default file when it exists, and the command line wins over it', () => {
    const path = file(
      'full.toml',
      `[rules]\npaths = ["/opt/rules"]\nexceptions = "/etc/ex.toml"\n[capture]\nreceive_buffer_bytes = 4194304\nrealtime = false\nevents = true\nenv_vars = ["LD_PRELOAD", "LD_AUDIT"]\n` +
        `[process_table]\nmax_entries = 1000\nexited_ttl_seconds = 5\n[alerts]\ndedup_window_seconds = 10\n[metrics]\nlisten = "127.0.0.1:9464"\n` +
        `[outputs.file]\npath = "/var/log/execwarden/alerts.ndjson"\n`,
    );
    const fromFile = loadAgentConfig({}, path);
    expect(fromFile.file).toBe(path);
    expect(fromFile.rules).toEqual({ paths: ['/opt/rules'], exceptions: '/etc/ex.toml', allowEmpty: false });
    expect(fromFile.capture).toEqual({ receiveBufferBytes: 4194304, realtime: false, events: true, envVars: ['LD_PRELOAD', 'LD_AUDIT'] });
    expect(fromFile.processTable).toEqual({ maxEntries: 1000, exitedTtlMs: 5000 });
    // The older name of the window is still read; the newer one wins when both are there.
    expect(fromFile.alerts).toEqual({ floodWindowMs: 10_000, floodBudget: 20 });
    const flood = loadAgentConfig({}, file('flood.toml', '[alerts]\ndedup_window_seconds = 10\nflood_window_seconds = 30\nflood_budget = 5\n'));
    expect(flood.alerts).toEqual({ floodWindowMs: 30_000, floodBudget: 5 });
    expect(() => loadAgentConfig({}, file('zero.toml', '[alerts]\nflood_budget = 0\n'))).toThrow(/flood_budget/);
    expect(fromFile.metrics.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(fromFile.outputs.file).toEqual({ path: '/var/log/execwarden/alerts.ndjson', minSeverity: 'low' });
    expect(fromFile.outputs.stdout).toBeUndefined();

    const overridden = loadAgentConfig(
      { config: path, rules: ['/tmp/r'], pretty: true, realtime: true, metrics: '[::1]:9000', maxProcesses: 500, receiveBuffer: 65536, events: false },
      join(dir, 'absent.toml'),
    );
    expect(overridden.rules.paths).toEqual(['/tmp/r']);
    expect(overridden.outputs.stdout).toEqual({ format: 'pretty', minSeverity: 'low' });
    expect(overridden.outputs.file).toEqual({ path: '/var/log/execwarden/alerts.ndjson', minSeverity: 'low' });
    expect(overridden.capture).toMatchObject({ receiveBufferBytes: 65536, realtime: true, events: false });
    expect(overridden.metrics.listen).toEqual({ host: '::1', port: 9000 });
    expect(overridden.processTable.maxEntries).toBe(500);
  });

  it.each([
    ['[capture]\nrealtme = true\n', 'capture.realtme: unknown key'],
    ['[outputz]\n', 'outputz: unknown key'],
    ['[capture]\nrealtime = "yes"\n', 'capture.realtime: expected true or false'],
    ['[process_table]\nmax_entries = 10\n', 'process_table.max_entries: expected an integer from 256 to 4194304'],
    ['[rules]\npaths = "/opt/rules"\n', 'rules.paths: expected an array of strings'],
    ['[metrics]\nlisten = "9464"\n', "metrics.listen: expected host:port (e.g. 127.0.0.1:9464), got '9464'"],
    ['[outputs.webhook]\nurl = "https://x.example/h"\ntimeout_ms = -1\n', 'outputs.webhook.timeout_ms'],
    ['rules = 3\n', 'rules: expected a table'],
  ])('stops on a bad setting with the file and key path: %j', (text, message) => {
    const path = file('bad.toml', text);
    expect(() => loadAgentConfig({ config: path })).toThrow(ConfigError);
    expect(() => loadAgentConfig({ config: path })).toThrow(`${path}: ${message}`);
  });

  it('reports every problem of a file at once, outputs included', () => {
    const path = file('many.toml', '[capture]\nrealtime = 1\n[metrics]\nlisten = "x"\n[outputs.file]\npath = "relative"\n');
    expect(() => loadAgentConfig({ config: path })).toThrow(
      `${path}: capture.realtime: expected true or false; metrics.listen: expected host:port (e.g. 127.0.0.1:9464), got 'x'; outputs.file.path: expected an absolute path`,
    );
  });

  it('refuses environment names that cannot be on the allow-list', () => {
    const path = file('env.toml', '[capture]\nenv_vars = ["LD_PRELOAD", "A=B", ""]\n');
    expect(() => loadAgentConfig({ config: path })).toThrow(
      `${path}: capture.env_vars: "A=B" must not contain '=' or NUL; capture.env_vars: "" must be 1 to 128 bytes`,
    );
  });

  it('reports TOML syntax errors with line and column', () => {
    const path = file('syntax.toml', '[capture]\nrealtime = tru\n');
    expect(() => loadAgentConfig({ config: path })).toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: invalid TOML: `));
  });

  it('says what is wrong with a string left open, not "control characters are not allowed"', () => {
    const path = file('open-string.toml', '[rules]\ndisable = ["259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39]\n');
    expect(() => loadAgentConfig({ config: path })).toThrow(`${path}:2:50: invalid TOML: string not closed before the end of the line`);
  });

  it('reads the rule selection, with where each name was written, and adds the command line to it', () => {
    const path = file(
      'selection.toml',
      '[rules]\nallow_empty = false\ndisable = ["259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39"]\n  disable_tags = ["Noisy", "noisy"]\nenable_tags = ["Tactic: Execution"]\nenable = []\n',
    );
    const at = (line: number, column: number, setting: string) => ({ file: path, line, column, setting });
    const config = loadAgentConfig({ config: path, disableRules: ['39a356fb-218c-4721-8503-d9887b537ca3'], enableTags: ['Tactic: Command and Control'] });
    expect(config.rules.selection).toEqual({
      enableRules: [],
      enableTags: [
        { value: 'Tactic: Execution', from: at(5, 1, 'rules.enable_tags') },
        { value: 'Tactic: Command and Control', from: { file: 'command line', line: 0, column: 0, setting: '--enable-tag' } },
      ],
      disableRules: [
        { value: '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39', from: at(3, 1, 'rules.disable') },
        { value: '39a356fb-218c-4721-8503-d9887b537ca3', from: { file: 'command line', line: 0, column: 0, setting: '--disable-rule' } },
      ],
      disableTags: [
        { value: 'Noisy', from: at(4, 3, 'rules.disable_tags') },
        { value: 'noisy', from: at(4, 3, 'rules.disable_tags') },
      ],
    });
    // Naming nothing is no selection at all: every rule runs.
    expect(loadAgentConfig({ config: file('none.toml', '[rules]\ndisable = []\nenable_tags = []\n') }).rules.selection).toBeUndefined();
    expect(resolveConfig({}, null, { disableTags: [] }).rules.selection).toBeUndefined();
    expect(resolveConfig({}, null, { disableTags: ['x'] }).rules.selection?.disableTags).toEqual([
      { value: 'x', from: { file: 'command line', line: 0, column: 0, setting: '--disable-tag' } },
    ]);
  });

  it.each([
    [{ disable: 'x' }, 'rules.disable: expected an array of strings'],
    [{ enable: [1] }, 'rules.enable: expected an array of strings'],
    [{ disable_tags: [''] }, 'rules.disable_tags: "" must not be empty'],
    [{ enable_tags: ['a\u0000b'] }, 'rules.enable_tags: "a\\u0000b" must not contain control characters'],
    [{ disable: ['x'.repeat(257)] }, `rules.disable: "${'x'.repeat(80)}" is longer than 256 characters`],
    [{ disable: Array.from({ length: 1025 }, (_, i) => `id-${i}`) }, 'rules.disable: at most 1024 rule ids'],
    [{ disabled: ['x'] }, 'rules.disabled: unknown key'],
  ])('refuses a bad rule selection: %j', (rules, message) => {
    expect(() => resolveConfig({ rules }, '/etc/execwarden/config.toml')).toThrow(`/etc/execwarden/config.toml: ${message}`);
  });

  it('checks command-line selections as it checks the file', () => {
    expect(() => resolveConfig({}, null, { enableRules: [''] })).toThrow('config: --enable-rule: "" must not be empty');
  });

  it('reads min_severity per output', () => {
    const path = file('min.toml', '[outputs.stdout]\nmin_severity = "high"\n[outputs.file]\npath = "/var/log/a.ndjson"\nmin_severity = "critical"\n');
    const config = loadAgentConfig({ config: path, pretty: true });
    expect(config.outputs.stdout).toEqual({ format: 'pretty', minSeverity: 'high' });
    expect(config.outputs.file).toEqual({ path: '/var/log/a.ndjson', minSeverity: 'critical' });
    expect(() => loadAgentConfig({ config: file('min-bad.toml', '[outputs.stdout]\nmin_severity = "severe"\n') })).toThrow(
      'outputs.stdout.min_severity: expected one of "low", "medium", "high", "critical"',
    );
  });

  it('requires a file named with --config to exist', () => {
    expect(() => loadAgentConfig({ config: join(dir, 'missing.toml') })).toThrow(/missing\.toml: cannot read the config file \(ENOENT\)/);
  });

  it('parses listen addresses on both sides of their limits', () => {
    expect(parseListenAddress('localhost:1', 'x')).toEqual({ host: 'localhost', port: 1 });
    expect(parseListenAddress('127.0.0.1:65535', 'x')).toEqual({ host: '127.0.0.1', port: 65535 });
    expect(() => parseListenAddress('127.0.0.1:0', 'x')).toThrow(ConfigError);
    expect(() => parseListenAddress('127.0.0.1:65536', 'x')).toThrow(ConfigError);
  });

  it('accepts the shipped default config as it is', () => {
    const config = loadAgentConfig({ config: join(import.meta.dirname, '../../systemd/config.toml') });
    expect(config.rules.paths).toEqual([]);
    expect(config.outputs.stdout).toEqual({ format: 'ndjson', minSeverity: 'low' });
    expect(config.outputs.file?.path).toBe('/var/log/execwarden/alerts.ndjson');
  });

  it('resolves an empty table to the same defaults', () => {
    expect(resolveConfig({}, null)).toEqual(loadAgentConfig({}, join(dir, 'absent.toml')));
  });
});
