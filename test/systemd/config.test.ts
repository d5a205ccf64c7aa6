/**
 * The default config shipped in systemd/config.toml must be accepted by the agent's parser, mean
 * exactly the built-in defaults plus the alert file, and its commented examples must be valid
 * once uncommented.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, resolveConfig } from '../../src/agent/config.js';
import { findPackageRoot } from '../../src/cli/install.js';

const shipped = join(findPackageRoot(import.meta.url), 'systemd', 'config.toml');
const dir = mkdtempSync(join(tmpdir(), 'execwarden-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('systemd/config.toml', () => {
  it('parses to the built-in defaults, with alerts to stdout and /var/log/execwarden', () => {
    const config = loadAgentConfig({ config: shipped });
    const defaults = resolveConfig({}, null);
    expect(config.rules).toEqual(defaults.rules);
    expect(config.capture).toEqual(defaults.capture);
    expect(config.processTable).toEqual(defaults.processTable);
    expect(config.alerts).toEqual(defaults.alerts);
    expect(config.metrics).toEqual({ listen: null });
    expect(config.outputs.stdout).toMatchObject({ format: 'ndjson' });
    expect(config.outputs.file).toEqual({ path: '/var/log/execwarden/alerts.ndjson' });
    expect(config.outputs.syslog).toBeUndefined();
    expect(config.outputs.webhook).toBeUndefined();
  });

  it('has valid commented examples', () => {
    const text = readFileSync(shipped, 'utf8');
    const uncommented = text.replace(/^# (\[outputs\.|[a-z_]+ = )/gm, '$1');
    expect(uncommented).not.toBe(text);
    const path = join(dir, 'uncommented.toml');
    writeFileSync(path, uncommented);
    const config = loadAgentConfig({ config: path });
    expect(config.outputs.syslog).toMatchObject({ transport: 'unix', path: '/dev/log', facility: 'auth' });
    expect(config.outputs.webhook).toMatchObject({ url: 'https://siem.example.net/ingest', timeoutMs: 5000, retries: 5 });
    expect(config.outputs.queue).toEqual({ maxDocuments: 10000 });
  });
});
