import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseOutputsConfig } from '../../src/outputs/config.js';
import { OutputsConfigError } from '../../src/outputs/errors.js';

function issuesOf(table: unknown): readonly string[] {
  try {
    parseOutputsConfig(table);
  } catch (error) {
    expect(error).toBeInstanceOf(OutputsConfigError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    return (error as OutputsConfigError).issues;
  }
  throw new Error('expected the table to be rejected');
}

describe('parseOutputsConfig', () => {
  it('defaults to stdout NDJSON when there is no sink table', () => {
    const stdout = { format: 'ndjson', minSeverity: 'low' };
    expect(parseOutputsConfig(undefined)).toEqual({ stdout, queue: { maxDocuments: 10_000 } });
    expect(parseOutputsConfig({})).toEqual({ stdout, queue: { maxDocuments: 10_000 } });
    expect(parseOutputsConfig({ queue: { max_documents: 5 } })).toEqual({ stdout, queue: { maxDocuments: 5 } });
  });

  it('reads the documented format', () => {
    const toml = parse(`
[outputs.stdout]
format = "pretty"
color = "never"
min_severity = "medium"
[outputs.file]
path = "/var/log/execwarden/alerts.ndjson"
min_severity = "low"
[outputs.syslog]
min_severity = "high"
transport = "tcp"
host = "10.0.0.5"
port = 6514
facility = "local4"
[outputs.webhook]
url = "https://siem.example/hooks/execwarden"
timeout_ms = 2500
retries = 3
concurrency = 2
max_age_seconds = 600
headers = { Authorization = "Bearer abc" }
ca_file = "/etc/execwarden/ca.pem"
min_severity = "critical"
[outputs.queue]
max_documents = 500
`);
    expect(parseOutputsConfig(toml.outputs)).toEqual({
      stdout: { format: 'pretty', color: 'never', minSeverity: 'medium' },
      file: { path: '/var/log/execwarden/alerts.ndjson', minSeverity: 'low' },
      syslog: { transport: 'tcp', host: '10.0.0.5', port: 6514, facility: 'local4', minSeverity: 'high' },
      webhook: {
        url: 'https://siem.example/hooks/execwarden',
        timeoutMs: 2500,
        retries: 3,
        concurrency: 2,
        maxAgeMs: 600_000,
        headers: { Authorization: 'Bearer abc' },
        caFile: '/etc/execwarden/ca.pem',
        minSeverity: 'critical',
      },
      queue: { maxDocuments: 500 },
    });
  });

  it('fills syslog and webhook defaults and leaves stdout off when another sink is configured', () => {
    expect(parseOutputsConfig({ syslog: {}, webhook: { url: 'http://127.0.0.1:8080/' } })).toEqual({
      syslog: { transport: 'unix', path: '/dev/log', facility: 'auth', minSeverity: 'low' },
      webhook: { url: 'http://127.0.0.1:8080/', timeoutMs: 5000, retries: 5, concurrency: 4, maxAgeMs: 3_600_000, headers: {}, minSeverity: 'low' },
      queue: { maxDocuments: 10_000 },
    });
    expect(parseOutputsConfig({ syslog: { transport: 'udp' } }).syslog).toEqual({ transport: 'udp', host: '127.0.0.1', port: 514, facility: 'auth', minSeverity: 'low' });
  });

  it.each([
    [{ webhook: { url: 'https://x/', timeout_ms: 0 } }, 'outputs.webhook.timeout_ms: expected a positive integer (at most 600000)'],
    [{ webhook: { url: 'https://x/', timeout_ms: 1.5 } }, 'outputs.webhook.timeout_ms: expected a positive integer (at most 600000)'],
    [{ webhook: { url: 'ftp://x/' } }, 'outputs.webhook.url: expected an http:// or https:// URL'],
    [{ webhook: {} }, 'outputs.webhook.url: required'],
    [{ webhook: { url: 'https://x/', retries: -1 } }, 'outputs.webhook.retries: expected an integer from 0 to 100'],
    [{ webhook: { url: 'https://x/', headers: { 'X-A': 'a\r\nInjected: 1' } } }, 'outputs.webhook.headers.X-A: expected a string without control characters'],
    [{ webhook: { url: 'https://x/', headers: { 'Bad Name': 'v' } } }, 'outputs.webhook.headers.Bad Name: not a valid HTTP header name'],
    [{ webhook: { url: 'https://x/', headers: { 'Content-Type': 'text/plain' } } }, 'outputs.webhook.headers.Content-Type: set by the agent, cannot be configured'],
    [{ webhook: { url: 'https://x/', timeout: 5 } }, 'outputs.webhook.timeout: unknown key'],
    [{ webhok: { url: 'https://x/' } }, 'outputs.webhok: unknown key'],
    [{ stdout: { format: 'json' } }, 'outputs.stdout.format: expected one of "ndjson", "pretty"'],
    [{ stdout: 'pretty' }, 'outputs.stdout: expected a table'],
    [{ file: {} }, 'outputs.file.path: required'],
    [{ file: { path: 'alerts.ndjson' } }, 'outputs.file.path: expected an absolute path'],
    [{ syslog: { transport: 'http' } }, 'outputs.syslog.transport: expected one of "unix", "unix-stream", "udp", "tcp"'],
    [{ syslog: { transport: 'udp', port: 70000 } }, 'outputs.syslog.port: expected a port number (1-65535)'],
    [{ syslog: { transport: 'udp', path: '/dev/log' } }, 'outputs.syslog.path: not used with transport "udp"'],
    [{ syslog: { transport: 'unix', host: 'h' } }, 'outputs.syslog.host: not used with transport "unix"'],
    [{ syslog: { facility: 'local9' } }, 'outputs.syslog.facility: unknown facility "local9"'],
    [{ queue: { max_documents: 0 } }, 'outputs.queue.max_documents: expected a positive integer (at most 10000000)'],
    [{ stdout: { min_severity: 'info' } }, 'outputs.stdout.min_severity: expected one of "low", "medium", "high", "critical"'],
    [{ file: { path: '/a', min_severity: 3 } }, 'outputs.file.min_severity: expected one of "low", "medium", "high", "critical"'],
    [{ syslog: { min_severity: 'HIGH' } }, 'outputs.syslog.min_severity: expected one of "low", "medium", "high", "critical"'],
    [{ webhook: { url: 'https://x/', min_severity: ['high'] } }, 'outputs.webhook.min_severity: expected one of "low", "medium", "high", "critical"'],
    [{ queue: { min_severity: 'high' } }, 'outputs.queue.min_severity: unknown key'],
  ])('rejects %j', (table, issue) => {
    const issues = issuesOf(table);
    expect(issues.some((text) => text.startsWith(issue))).toBe(true);
  });

  it('reports every problem at once, under the given key prefix', () => {
    const error = (() => {
      try {
        parseOutputsConfig({ file: {}, webhook: { url: 'x', retries: 'many' } }, 'agent.outputs');
      } catch (e) {
        return e as OutputsConfigError;
      }
      throw new Error('not rejected');
    })();
    expect(error.issues).toEqual([
      'agent.outputs.file.path: required',
      'agent.outputs.webhook.url: expected an http:// or https:// URL',
      'agent.outputs.webhook.retries: expected an integer from 0 to 100',
    ]);
    expect(error.message).toBe(error.issues.join('; '));
  });

  it('rejects a non-table', () => {
    expect(() => parseOutputsConfig('stdout')).toThrow('outputs: expected a table');
  });
});
