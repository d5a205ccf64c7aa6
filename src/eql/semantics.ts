/**
 * Checks that need the whole tree but no event: functions exist and get the right number of
 * arguments, `fn~` is only used where a case-insensitive variant exists, arguments that must be
 * constants are, CIDR blocks and regular expressions are valid (regex-match.ts: Lucene's dialect,
 * within the regex limits), and every stage of a sequence has the same number of join keys.
 * Errors point at the offending node.
 */
import { assertNever, type ExpressionNode, type QueryAst, type SequenceTermNode } from './ast.js';
import { EqlError, EqlErrorCode } from './errors.js';
import { lookupFunction, parseCidr } from './functions.js';
import { DEFAULT_LIMITS, type EqlLimits } from './limits.js';
import { checkRegexMatch } from './regex-match.js';

export function checkQuery(ast: QueryAst, source: string, limits: Readonly<EqlLimits> = DEFAULT_LIMITS): void {
  const checkExpression = (node: ExpressionNode): void => checkExpressionTree(node, source, limits);
  const body = ast.body;
  switch (body.kind) {
    case 'eventQuery':
      checkExpression(body.filter.condition);
      return;
    case 'sequenceQuery':
    case 'sampleQuery': {
      body.joinKeys.forEach(checkExpression);
      const terms: SequenceTermNode[] = body.kind === 'sequenceQuery' && body.until ? [...body.terms, body.until] : body.terms;
      const keyCount = terms[0].joinKeys.length;
      for (const term of terms) {
        checkExpression(term.filter.condition);
        term.joinKeys.forEach(checkExpression);
        if (term.joinKeys.length !== keyCount) {
          throw new EqlError(
            EqlErrorCode.JoinKeyMismatch,
            `inconsistent number of join keys: expected ${keyCount}, found ${term.joinKeys.length}`,
            source,
            term.start,
            term.end - term.start,
          );
        }
      }
      return;
    }
    default:
      assertNever(body, 'query');
  }
}

function checkExpressionTree(node: ExpressionNode, source: string, limits: Readonly<EqlLimits>): void {
  const checkExpression = (child: ExpressionNode): void => checkExpressionTree(child, source, limits);
  const fail = (code: EqlErrorCode, detail: string, at: ExpressionNode): never => {
    throw new EqlError(code, detail, source, at.start, at.end - at.start);
  };
  switch (node.kind) {
    case 'literal':
    case 'field':
    case 'stageField':
      return;
    case 'lineage':
      checkExpression(node.filter.condition);
      return;
    case 'comparison':
    case 'arithmetic':
      checkExpression(node.left);
      checkExpression(node.right);
      return;
    case 'logical':
      node.operands.forEach(checkExpression);
      return;
    case 'not':
    case 'negate':
      checkExpression(node.operand);
      return;
    case 'in':
      checkExpression(node.value);
      node.list.forEach(checkExpression);
      return;
    case 'match':
      checkExpression(node.value);
      if (node.op === 'regex') checkRegexMatch(node, source, limits);
      return;
    case 'call': {
      const spec = lookupFunction(node.name);
      if (spec === undefined) return fail(EqlErrorCode.UnknownFunction, `unknown function '${node.name}'`, node);
      if (node.caseInsensitive && !spec.hasInsensitiveVariant) {
        fail(EqlErrorCode.UnknownFunction, `function '${spec.name}' has no case-insensitive variant '${spec.name}~'`, node);
      }
      const count = node.args.length;
      if (count < spec.minArgs || count > spec.maxArgs) {
        const expected =
          spec.maxArgs === Infinity ? `at least ${spec.minArgs}` : spec.minArgs === spec.maxArgs ? `${spec.minArgs}` : `${spec.minArgs} to ${spec.maxArgs}`;
        fail(EqlErrorCode.WrongArity, `function '${spec.name}' expects ${expected} arguments, found ${count}`, node);
      }
      node.args.forEach(checkExpression);
      for (const index of spec.constantArgs) {
        const arg = node.args[index];
        if (arg !== undefined && arg.kind !== 'literal') fail(EqlErrorCode.InvalidArgument, `argument ${index + 1} of '${spec.name}' must be a constant`, arg);
      }
      if (spec.name === 'between' && node.args[3] !== undefined && node.args[3].kind === 'literal' && typeof node.args[3].value !== 'boolean') {
        fail(EqlErrorCode.InvalidArgument, "the greedy argument of 'between' must be true or false", node.args[3]);
      }
      if (spec.name === 'cidrMatch') {
        for (const arg of node.args.slice(1)) {
          if (arg.kind !== 'literal' || typeof arg.value !== 'string') {
            fail(EqlErrorCode.InvalidArgument, "the CIDR blocks of 'cidrMatch' must be string constants", arg);
          } else if (parseCidr(arg.value) === null) {
            fail(EqlErrorCode.InvalidArgument, `invalid CIDR block '${arg.value}'`, arg);
          }
        }
      }
      return;
    }
    default:
      assertNever(node, 'expression');
  }
}
