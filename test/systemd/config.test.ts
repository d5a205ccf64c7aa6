/**
 * The default config shipped in systemd/config.toml must be accepted by the agent's parser, mean
 * exactly the built-in defaults plus the alert file, and its commented examples must be valid
 * once uncommented. It says "the values shown are the defaults", so every value it shows,
 * commented or not, is checked against the built-in default one by one: a default changed in
 * the code and not in the file (or the other way round) fails here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, resolveConfig } from '../../src/agent/config.js';
import type { Table } from '../../src/config-table.js';
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
    expect(config.outputs.stdout).toEqual({ format: 'ndjson', minSeverity: 'low' });
    expect(config.outputs.file).toEqual({ path: '/var/log/execwarden/alerts.ndjson', minSeverity: 'low' });
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
    expect(config.outputs.syslog).toMatchObject({ transport: 'unix', path: '/dev/log', facility: 'auth', minSeverity: 'low' });
    expect(config.outputs.webhook).toMatchObject({ url: 'https://siem.example.net/ingest', timeoutMs: 5000, retries: 5, minSeverity: 'low' });
    expect(config.outputs.queue).toEqual({ maxDocuments: 10000 });
    expect(config.response.killRules).toEqual(['259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39']);
  });

  /** Values the file shows as examples, with no default to equal. */
  const EXAMPLES = new Set(['response.kill_rules', 'outputs.file.path', 'outputs.webhook.url', 'outputs.webhook.headers']);
  /** What a table needs beside the key under test to be valid at all. */
  const CONTEXT: Record<string, Table> = {
    'outputs.file': { path: '/var/log/execwarden/alerts.ndjson' },
    'outputs.webhook': { url: 'https://siem.example.net/ingest' },
  };

  /** Every `key = value` line, commented or not, under the table header above it. */
  function shownSettings(text: string): { section: string; key: string; value: unknown; line: number }[] {
    const shown: { section: string; key: string; value: unknown; line: number }[] = [];
    let section = '';
    text.split('\n').forEach((line, index) => {
      const header = /^#?\s*\[([a-z_.]+)\]\s*$/.exec(line);
      if (header) {
        section = header[1]!;
        return;
      }
      const setting = /^#?\s*([a-z_]+ = .*)$/.exec(line);
      if (!setting) return;
      const [[key, value]] = Object.entries(parse(setting[1]!)) as [[string, unknown]];
      shown.push({ section, key, value, line: index + 1 });
    });
    return shown;
  }

  function nested(section: string, table: Table): Table {
    return section.split('.').reduceRight<Table>((inner, part) => ({ [part]: inner }), table);
  }

  it('shows only built-in defaults, commented or not, except where it says "e.g."', () => {
    const shown = shownSettings(readFileSync(shipped, 'utf8'));
    const checked: string[] = [];
    for (const { section, key, value, line } of shown) {
      const path = `${section}.${key}`;
      if (EXAMPLES.has(path)) continue;
      // syslog's host and port are shown for the network transports.
      const context = section === 'outputs.syslog' && (key === 'host' || key === 'port') ? { transport: 'udp' } : (CONTEXT[section] ?? {});
      const withValue = resolveConfig(nested(section, { ...context, [key]: value }), null);
      const without = resolveConfig(nested(section, context), null);
      expect({ line, path, config: withValue }).toEqual({ line, path, config: without });
      checked.push(path);
    }
    expect(checked).toEqual(expect.arrayContaining([
      'rules.paths', 'rules.enable', 'rules.enable_tags', 'rules.disable', 'rules.disable_tags', 'capture.receive_buffer_bytes',
      'capture.env_vars', 'alerts.flood_budget', 'shutdown.drain_seconds', 'outputs.stdout.min_severity', 'outputs.file.min_severity',
      'outputs.syslog.min_severity', 'outputs.syslog.port', 'outputs.webhook.min_severity', 'outputs.webhook.max_age_seconds', 'outputs.queue.max_documents',
    ]));
  });
});
