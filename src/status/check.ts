/**
 * What `execwarden status` reports: a list of checks, each ok, warning or problem with a one-line
 * fix, and one verdict drawn from them. A problem means the host is not protected (capture cannot
 * work, no agent runs, the agent cannot start with its config, rules or outputs); a warning means
 * it is, with a gap worth closing (events lost, no SCHED_FIFO, an output unreachable while others
 * work). Every text in a check is already bounded and terminal-safe (see `shown`), so the text and
 * JSON renderings can print it as it is.
 */
import { terminalSafe } from '../outputs/terminal-text.js';

export type CheckLevel = 'ok' | 'warning' | 'problem';

export type CheckSection = 'host' | 'service' | 'config' | 'rules' | 'outputs';

export const CHECK_SECTIONS: readonly CheckSection[] = ['host', 'service', 'config', 'rules', 'outputs'];

export interface Check {
  /** Stable identifier, e.g. `host.kernel`, `service.metrics`, `output.webhook`. */
  id: string;
  section: CheckSection;
  level: CheckLevel;
  /** Short label shown before the summary, e.g. `CAP_SYS_NICE`. */
  title: string;
  /** One line: what was found. */
  summary: string;
  /** One line: what to do; null when there is nothing to do. */
  fix: string | null;
  /** Further lines (counters, the first diagnostics). */
  details: string[];
  /** For a warning or problem: the few words the verdict line quotes. */
  reason: string | null;
}

export type VerdictState = 'protected' | 'degraded' | 'not protected';

export interface Verdict {
  state: VerdictState;
  /** The reasons of the problems (not protected) or of the warnings (degraded). */
  reasons: string[];
  /** `protected`, `degraded: …`, `not protected: …`. */
  text: string;
  exitCode: 0 | 1;
}

/** Longest piece of environment-supplied text shown in a summary, after escaping. */
export const SHOWN_CHARS = 160;
/** Longest detail line (a rule diagnostic, say), after escaping. */
export const DETAIL_CHARS = 300;

/** Untrusted text made printable and cut (unit text, metrics labels, paths, error messages). */
export function shown(text: string, maxChars = SHOWN_CHARS): string {
  return terminalSafe(text, maxChars);
}

export function check(
  id: string,
  section: CheckSection,
  level: CheckLevel,
  title: string,
  summary: string,
  more: { fix?: string | null; details?: string[]; reason?: string | null } = {},
): Check {
  return {
    id,
    section,
    level,
    title,
    summary,
    fix: more.fix ?? null,
    details: more.details ?? [],
    reason: level === 'ok' ? null : (more.reason ?? `${title}: ${summary}`),
  };
}

export function verdictOf(checks: readonly Check[]): Verdict {
  const reasonsAt = (level: CheckLevel): string[] =>
    checks.filter((c) => c.level === level).map((c) => c.reason ?? c.title);
  const problems = reasonsAt('problem');
  if (problems.length > 0) {
    return { state: 'not protected', reasons: problems, text: `not protected: ${problems.join('; ')}`, exitCode: 1 };
  }
  const warnings = reasonsAt('warning');
  if (warnings.length > 0) {
    return { state: 'degraded', reasons: warnings, text: `degraded: ${warnings.join('; ')}`, exitCode: 1 };
  }
  return { state: 'protected', reasons: [], text: 'protected', exitCode: 0 };
}
