/**
 * What `query` warns about before it runs, on stderr, without changing its exit status (the
 * events may come from another agent, one that does fill those fields):
 * - the facts `rules validate` reports for a rule's query, found by the same function
 *   (rules/filled-fields.ts) and said in the same words: fields execwarden never fills
 *   (RULE0302), and a query that can never match execwarden's events (RULE0303);
 * - among the unfilled fields, the commonest slip behind one: an unquoted word meant as text.
 *   `process.name == setsid` compares with a field named `setsid`, which no event has, so the
 *   query silently matches nothing. A one-segment field written bare (not `?word`, not in
 *   backquotes) and used where a value goes (compared with another field, in an `in` list, as a
 *   function argument) is named with the quoted form to write instead.
 */
import { someExpression, type ExpressionNode, type QueryAst } from '../eql/ast.js';
import { terminalSafe } from '../outputs/terminal-text.js';
import { RuleDiagnosticCode } from '../rules/diagnostics.js';
import { queryReach, unfilledFields } from '../rules/filled-fields.js';

/** Names listed in one warning; the rest are counted. */
const MAX_NAMES = 20;
/** Characters of one name shown (after escaping). */
const NAME_CHARS = 128;

const BARE_WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;

function rootsOf(ast: QueryAst): ExpressionNode[] {
  const body = ast.body;
  if (body.kind === 'eventQuery') return [body.filter.condition];
  const terms = body.kind === 'sequenceQuery' && body.until !== null ? [...body.terms, body.until] : body.terms;
  return [...body.joinKeys, ...terms.flatMap((term) => [term.filter.condition, ...term.joinKeys])];
}

/** Unquoted one-word fields used where a value goes, in order of appearance. */
export function bareWords(ast: QueryAst, source: string, unfilled: ReadonlySet<string>): string[] {
  const words = new Set<string>();
  const consider = (node: ExpressionNode): void => {
    if (node.kind !== 'field' || node.optional || node.path.length !== 1) return;
    if (!unfilled.has(node.name) || !BARE_WORD.test(node.name)) return;
    if (source.slice(node.start, node.end) !== node.name) return; // backquoted: a field on purpose
    words.add(node.name);
  };
  for (const root of rootsOf(ast)) {
    someExpression(root, (node) => {
      if (node.kind === 'comparison' && node.left.kind === 'field' && node.right.kind === 'field') {
        consider(node.left);
        consider(node.right);
      } else if (node.kind === 'in') {
        node.list.forEach(consider);
      } else if (node.kind === 'call') {
        node.args.forEach(consider);
      }
      return false; // visit everything
    });
  }
  return [...words];
}

function listed(names: readonly string[], show: (name: string) => string): string {
  const shown = names.slice(0, MAX_NAMES).map(show).join(', ');
  return names.length > MAX_NAMES ? `${shown} and ${names.length - MAX_NAMES} more` : shown;
}

/** The warning lines for a compiled query (each without its trailing newline). */
export function queryWarnings(ast: QueryAst, source: string): string[] {
  const reach = queryReach(ast);
  if (reach.neverMatches !== null) {
    return [`query warning ${RuleDiagnosticCode.NeverMatches}: query never matches on this agent: ${terminalSafe(reach.neverMatches)}`];
  }
  const unfilled = unfilledFields(reach.fields);
  if (unfilled.length === 0) return [];
  const words = bareWords(ast, source, new Set(unfilled));
  const fields = unfilled.filter((name) => !words.includes(name));
  const warnings: string[] = [];
  if (words.length > 0) {
    const one = words.length === 1;
    warnings.push(
      `query warning: ${listed(words, (w) => w)} ${one ? 'is read as a field name (execwarden never fills it)' : 'are read as field names (execwarden never fills them)'}; ` +
        `to compare with text, quote ${one ? 'it' : 'them'}: ${listed(words, (w) => JSON.stringify(w))}`,
    );
  }
  if (fields.length > 0) {
    const names = listed(fields, (name) => terminalSafe(name, NAME_CHARS));
    warnings.push(`query warning ${RuleDiagnosticCode.UnfilledFields}: query uses fields execwarden never fills: ${names}`);
  }
  return warnings;
}
