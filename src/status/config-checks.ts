/**
 * The config file and the rules it names, judged as the agent would judge them at start: a
 * ConfigError or a rule error stops it (and a running agent keeps its previous rules on reload),
 * a rule warning does not. The config message already names the file and the key.
 */
import { check, DETAIL_CHARS, shown, type Check } from './check.js';
import type { StatusContext } from './context.js';
import type { ConfigFacts, RulesFacts } from './facts.js';

const SOURCE_NOTE: Record<ConfigFacts['source'], string> = {
  option: '--config',
  service: "the service's --config",
  agent: "the running agent's --config",
  default: 'the default path',
};

export function configCheck(config: ConfigFacts, context: StatusContext): Check {
  const id = 'config';
  const title = 'config';
  if (config.ok) {
    if (config.file === null) {
      return check(id, 'config', 'ok', title, 'no config file: the defaults (bundled rules, NDJSON alerts on stdout)', {
        fix: 'sudo execwarden install writes a commented /etc/execwarden/config.toml',
      });
    }
    return check(id, 'config', 'ok', title, `${shown(config.file)} (${SOURCE_NOTE[config.source]}): valid`);
  }
  const file = config.file === null ? 'the config' : shown(config.file);
  if (config.errno === 'EACCES' || config.errno === 'EPERM') {
    // The service reads it with CAP_DAC_READ_SEARCH; this user simply may not.
    return check(id, 'config', context.service ? 'warning' : 'problem', title, `${file} is not readable by this user`, {
      fix: 'sudo execwarden status',
      reason: 'the config could not be read here',
    });
  }
  if (config.errno === 'ENOENT') {
    return check(id, 'config', 'problem', title, `${file} (${SOURCE_NOTE[config.source]}) does not exist: the agent cannot start`, {
      fix: config.source === 'service' ? 'sudo execwarden install writes the default config' : 'give an existing file to --config',
      reason: 'the config file is missing',
    });
  }
  return check(id, 'config', 'problem', title, `invalid: the agent refuses to start with it`, {
    details: [shown(config.message, DETAIL_CHARS * 2)],
    fix: 'correct the file and key named above (systemd/config.toml documents every key)',
    reason: 'the config is invalid',
  });
}

/** Diagnostics shown at most; `execwarden rules validate` lists all of them. */
export const MAX_DIAGNOSTICS_SHOWN = 5;

function validateCommand(paths: readonly string[]): string {
  const shownPaths = paths.slice(0, 3).map((p) => shown(p, 80));
  return `execwarden rules validate${shownPaths.length > 0 ? ` ${shownPaths.join(' ')}` : ''}${paths.length > 3 ? ' …' : ''}`;
}

export function rulesCheck(rules: RulesFacts | null): Check {
  const id = 'rules';
  const title = 'rules';
  if (rules === null) {
    return check(id, 'rules', 'warning', title, 'not checked: the config could not be read', { reason: 'the rules were not checked' });
  }
  if (rules.failure !== null) {
    return check(id, 'rules', 'problem', title, `could not be loaded: ${shown(rules.failure)}`, {
      fix: validateCommand(rules.paths), reason: 'the rules could not be loaded',
    });
  }
  const where = rules.paths.length === 0 ? 'the bundled rules' : `${rules.files} file${rules.files === 1 ? '' : 's'}`;
  const never = rules.neverMatch > 0 ? `, ${rules.neverMatch} never match on this agent` : '';
  const exceptions = rules.exceptions !== null ? `, ${rules.exceptions} exceptions` : '';
  const disabled = rules.disabled > 0 ? `, ${rules.disabled} disabled by the rule selection` : '';
  const loaded = `${rules.rules} rules from ${where}${disabled}${never}${exceptions}`;
  const details = rules.first.map((d) => shown(d, DETAIL_CHARS));
  const more = rules.errors + rules.warnings - details.length;
  if (more > 0) details.push(`… ${more} more`);
  if (rules.errors > 0) {
    return check(id, 'rules', 'problem', title, `${rules.errors} error${rules.errors === 1 ? '' : 's'}, ${rules.warnings} warnings: the agent refuses to start with them (a running one keeps its previous rules on reload)`, {
      details, fix: `${validateCommand(rules.paths)} lists every one with file, line and column`, reason: 'the rules have errors',
    });
  }
  if (rules.warnings > 0) {
    return check(id, 'rules', 'warning', title, `${loaded}; ${rules.warnings} warning${rules.warnings === 1 ? '' : 's'}`, {
      details, fix: `${validateCommand(rules.paths)} lists every one`, reason: `${rules.warnings} rule warning${rules.warnings === 1 ? '' : 's'}`,
    });
  }
  return check(id, 'rules', 'ok', title, `${loaded}; no errors or warnings`);
}
