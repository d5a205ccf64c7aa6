/**
 * Whether each configured output can take alerts, judged for whoever runs the agent. The service
 * runs as a dynamic user under ProtectSystem=strict (systemd/execwarden.service): it can write
 * only in its LogsDirectory (/var/log/execwarden), its StateDirectory (/var/lib/execwarden),
 * ReadWritePaths= a drop-in adds, and a private /tmp nobody else sees. Without a service, this
 * process's own access is what counts.
 *
 * A file or syslog output that cannot be opened stops the agent at start, so it is a problem. A
 * webhook that does not answer only delays its alerts (they queue, are retried and expire after
 * max_age_seconds): a warning while another output works, a problem when none does.
 */
import { check, shown, type Check } from './check.js';
import type { StatusContext } from './context.js';
import type { OutputFacts, PathFacts } from './output-facts.js';
import { readWritePaths, type ShowProperty } from './service-facts.js';

type Properties = Partial<Record<ShowProperty, string>>;

function under(path: string, root: string): boolean {
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  return path === base || path.startsWith(`${base}/`);
}

function directoryNames(value: string | undefined, parent: string): string[] {
  if (value === undefined) return [];
  return value
    .split(/\s+/)
    .filter((name) => name !== '' && !name.includes('..'))
    .map((name) => (name.startsWith('/') ? name : `${parent}/${name}`));
}

/** Where the service may write: its own directories (systemd creates them for its user), then ReadWritePaths=. */
export function serviceWritableRoots(p: Properties): { own: string[]; granted: string[] } {
  return {
    own: [...directoryNames(p.LogsDirectory, '/var/log'), ...directoryNames(p.StateDirectory, '/var/lib')],
    granted: readWritePaths(p.ReadWritePaths),
  };
}

const PRIVATE_TMP = ['/tmp', '/var/tmp'];
const FILE_FIX = 'put it under /var/log/execwarden/ (the unit\'s LogsDirectory), or add ReadWritePaths= for its directory in a drop-in (systemctl edit execwarden)';

function fileCheckForService(path: string, facts: PathFacts, p: Properties, serviceUid: number | null): Check {
  const id = 'output.file';
  const title = 'file';
  const where = shown(path);
  if (facts.file === 'other') {
    return check(id, 'outputs', 'problem', title, `${where} exists and is not a regular file`, { fix: 'point [outputs.file] path at a regular file', reason: 'the file output is not a file' });
  }
  if (PRIVATE_TMP.some((t) => under(path, t))) {
    return check(id, 'outputs', 'warning', title, `${where} is under the service's private /tmp (PrivateTmp=yes): nobody else sees it, and it is gone when the service stops`, {
      fix: 'use /var/log/execwarden/alerts.ndjson', reason: 'the file output is in a private /tmp',
    });
  }
  const roots = serviceWritableRoots(p);
  const own = roots.own.find((root) => under(path, root));
  if (own !== undefined) {
    const exists = facts.existingAncestor === facts.dir ? 'exists' : 'is created by systemd when the service starts';
    return check(id, 'outputs', 'ok', title, `${where}: in the service's own ${shown(own)}, which ${exists}`);
  }
  const granted = roots.granted.find((root) => under(path, root));
  if (granted !== undefined) {
    const ownerMatches = serviceUid !== null && facts.ancestorUid === serviceUid;
    const othersWrite = (facts.ancestorMode & 0o002) !== 0;
    if (ownerMatches || othersWrite) return check(id, 'outputs', 'ok', title, `${where}: ${shown(facts.existingAncestor)} is in ReadWritePaths= and writable by the service`);
    const mode = (facts.ancestorMode & 0o7777).toString(8).padStart(4, '0');
    return check(id, 'outputs', 'problem', title, `${where}: ${shown(facts.existingAncestor)} is in ReadWritePaths=, but owned by uid ${facts.ancestorUid} with mode ${mode}: the service's dynamic user cannot write it`, {
      fix: FILE_FIX, reason: 'the service cannot write the file output',
    });
  }
  return check(id, 'outputs', 'problem', title, `${where}: ${shown(facts.dir)} is read-only to the service (ProtectSystem=strict): the agent cannot start`, {
    fix: FILE_FIX, reason: 'the service cannot write the file output',
  });
}

function fileCheckHere(path: string, facts: PathFacts): Check {
  const id = 'output.file';
  const title = 'file';
  const where = shown(path);
  if (facts.file === 'other') {
    return check(id, 'outputs', 'problem', title, `${where} exists and is not a regular file`, { fix: 'point [outputs.file] path at a regular file', reason: 'the file output is not a file' });
  }
  if (facts.file === 'file' ? facts.fileWritableHere : facts.writableHere) {
    const how = facts.file === 'file' ? 'writable' : facts.existingAncestor === facts.dir ? 'can be created' : `can be created with its directory under ${shown(facts.existingAncestor)}`;
    return check(id, 'outputs', 'ok', title, `${where}: ${how}`);
  }
  return check(id, 'outputs', 'problem', title, `${where}: not writable by this user (${shown(facts.file === 'file' ? path : facts.existingAncestor)}): the agent cannot start`, {
    fix: 'run the agent as root, or choose a path this user can write', reason: 'the file output is not writable',
  });
}

const EVERYTHING = /^(?:any|0\.0\.0\.0\/0|::\/0)$/;
const LOOPBACK_HOST = /^(?:127\.|::1$|localhost$)/;
const LOOPBACK_ENTRY = /^(?:localhost|127\.|::1(?:\/|$))/;

/**
 * The unit's IP filter keeps the service from `host`: IPAddressDeny= covers everything and no
 * IPAddressAllow= entry lets it back. Only the plain cases are judged: when an allow entry other
 * than loopback exists, the host is assumed covered (no false alarm from a CIDR not matched here).
 */
export function ipDenied(p: Properties, host: string): boolean {
  const deny = (p.IPAddressDeny ?? '').split(/\s+/).filter((a) => a !== '');
  if (!deny.some((a) => EVERYTHING.test(a))) return false;
  const allow = (p.IPAddressAllow ?? '').split(/\s+/).filter((a) => a !== '');
  if (allow.some((a) => EVERYTHING.test(a))) return false;
  const loopbackAllowed = allow.some((a) => LOOPBACK_ENTRY.test(a));
  if (LOOPBACK_HOST.test(host)) return !loopbackAllowed;
  return allow.every((a) => LOOPBACK_ENTRY.test(a));
}

/** The problem when the unit's IPAddressDeny= keeps the service from `host`, else null. */
function deniedCheck(id: string, title: string, target: string, host: string, p: Properties | null): Check | null {
  if (p === null || !ipDenied(p, host)) return null;
  return check(id, 'outputs', 'problem', title, `${target}: the unit's IPAddressDeny= blocks the service from reaching it`, {
    fix: 'remove IPAddressDeny= from the drop-in, or add IPAddressAllow= for it', reason: `${title} blocked by the unit's IPAddressDeny`,
  });
}

function networkCheck(id: string, title: string, target: string, host: string, reach: { ok: true; ms: number } | { ok: false; error: string }, p: Properties | null, fatal: boolean): Check {
  const denied = deniedCheck(id, title, target, host, p);
  if (denied !== null) return denied;
  if (reach.ok) return check(id, 'outputs', 'ok', title, `${target} accepts TCP connections (${reach.ms} ms; nothing sent)`);
  return check(id, 'outputs', fatal ? 'problem' : 'warning', title, `${target} unreachable from here (${shown(reach.error, 80)})${fatal ? ': the agent cannot start with it' : ': alerts queue there and are retried'}`, {
    fix: 'check the address, the peer and the firewall between them',
    reason: `${title} unreachable`,
  });
}

function outputCheck(output: OutputFacts, context: StatusContext, serviceUid: number | null): Check {
  const p = context.service ? context.properties : null;
  switch (output.kind) {
    case 'stdout':
      return check('output.stdout', 'outputs', 'ok', 'stdout', context.service
        ? `${output.format === 'pretty' ? 'readable lines' : 'NDJSON'} to the journal (journalctl -u execwarden)`
        : `${output.format === 'pretty' ? 'readable lines' : 'NDJSON'} on the standard output of \`execwarden run\``);
    case 'file':
      return p !== null ? fileCheckForService(output.path, output.facts, p, serviceUid) : fileCheckHere(output.path, output.facts);
    case 'syslog-unix': {
      const where = `${output.transport} socket ${shown(output.path)}`;
      if (output.socket !== 'socket') {
        const what = output.socket === 'missing' ? 'does not exist: no syslog daemon listens there' : output.socket === 'not-socket' ? 'is not a socket' : 'cannot be checked by this user';
        return check('output.syslog', 'outputs', output.socket === 'unreadable' ? 'warning' : 'problem', 'syslog', `${where} ${what}`, {
          fix: output.socket === 'unreadable' ? 'sudo execwarden status' : 'start a syslog daemon (rsyslog) or set [outputs.syslog] transport = "udp" or "tcp"',
          reason: 'the syslog socket is missing',
        });
      }
      if (!output.loggerOnPath) {
        return check('output.syslog', 'outputs', 'problem', 'syslog', `${where} exists, but \`logger\`, which the unix transports send through, is not on PATH`, {
          fix: 'apt-get install bsdutils (util-linux logger)', reason: 'logger is missing for the syslog output',
        });
      }
      return check('output.syslog', 'outputs', 'ok', 'syslog', `${where} exists`);
    }
    case 'syslog-udp': {
      const target = `udp ${shown(output.host, 80)}:${output.port}`;
      const denied = deniedCheck('output.syslog', 'syslog', target, output.host, p);
      if (denied !== null) return denied;
      if (!output.reach.ok) {
        return check('output.syslog', 'outputs', 'problem', 'syslog', `${target}: the name does not resolve (${shown(output.reach.error, 80)}): the agent cannot start with it`, {
          fix: 'correct [outputs.syslog] host', reason: 'the syslog host does not resolve',
        });
      }
      return check('output.syslog', 'outputs', 'ok', 'syslog', `${target}: the address resolves (UDP has no handshake: delivery cannot be checked without sending)`);
    }
    case 'syslog-tcp':
      return networkCheck('output.syslog', 'syslog', `tcp ${shown(output.host, 80)}:${output.port}`, output.host, output.reach, p, true);
    case 'webhook': {
      if (output.caFile !== null && output.caReadable === false) {
        return check('output.webhook', 'outputs', 'problem', 'webhook', `ca_file ${shown(output.caFile)} cannot be read: the agent cannot start`, {
          fix: 'correct [outputs.webhook] ca_file', reason: "the webhook's CA file is unreadable",
        });
      }
      return networkCheck('output.webhook', 'webhook', shown(output.origin), output.host, output.reach, p, false);
    }
  }
}

export function outputChecks(outputs: OutputFacts[] | null, context: StatusContext, serviceUid: number | null): Check[] {
  if (outputs === null) {
    return [check('outputs', 'outputs', 'warning', 'outputs', 'not checked: the config could not be read', { reason: 'the outputs were not checked' })];
  }
  const checks = outputs.map((output) => outputCheck(output, context, serviceUid));
  // A webhook that does not answer is a problem only when nothing else takes the alerts.
  if (!checks.some((c) => c.level === 'ok')) {
    return checks.map((c) => (c.level === 'warning' && c.id === 'output.webhook' ? { ...c, level: 'problem' as const, reason: 'no output reachable' } : c));
  }
  return checks;
}
