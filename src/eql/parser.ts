/**
 * Recursive-descent parser for EQL, following the precedence of Elasticsearch's grammar, from
 * loosest to tightest:
 *
 *   or  <  and  <  not  <  predicate (in, in~, :, like, like~, regex, regex~)
 *       <  comparison (== != < <= > >=, not chainable)  <  + -  <  * / %  <  unary - +  <  primary
 *
 * Queries: `category where cond`, `any where cond`, `sequence [by k] [with maxspan=N unit]
 * [cat where cond] [by k] [with runs=N] ... [until [...]]`, `sample by k [...] [...]`, each
 * optionally followed by `| pipe args`. Limits (length, depth, list size) are enforced here so
 * nothing later walks an oversized tree.
 *
 * Elastic Defend's dialect (dialect.ts) adds, at the level of `not`, `descendant of [cat where
 * cond]`, `child of [...]` and `event of [...]`, and in a sequence `[...] as name` after a stage,
 * with `name.field` in a later stage read from the event that stage matched. Both parse in either
 * dialect so that Elasticsearch's gets an error that names them, with a caret, rather than a
 * confusing one about the next token.
 */
import {
  expressionChildren,
  type ComparisonOperator,
  type EventFilterNode,
  type ExpressionNode,
  type FieldNode,
  type LineageNode,
  type LineageRelation,
  type LiteralNode,
  type PipeNode,
  type QueryAst,
  type QueryBodyNode,
  type SequenceTermNode,
} from './ast.js';
import { DEFAULT_DIALECT, type EqlDialect } from './dialect.js';
import { EqlError, EqlErrorCode, type EqlErrorCode as Code } from './errors.js';
import { tokenize } from './lexer.js';
import { resolveLimits, type EqlLimits } from './limits.js';
import type { Token } from './tokens.js';

const COMPARISON_OPERATORS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const LINEAGE_RELATIONS: ReadonlySet<string> = new Set<LineageRelation>(['descendant', 'child', 'event']);

export function parseQuery(text: string, limits?: Partial<EqlLimits>, dialect: EqlDialect = DEFAULT_DIALECT): QueryAst {
  return new Parser(text, resolveLimits(limits), dialect).parseQuery();
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private depth = 0;
  /** Names given to the stages of the sequence being parsed. */
  private readonly stageNames = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly limits: Readonly<EqlLimits>,
    private readonly dialect: EqlDialect,
  ) {
    if (source.length > limits.maxQueryLength) {
      throw new EqlError(
        EqlErrorCode.QueryTooLong,
        `query is ${source.length} characters long, the limit is ${limits.maxQueryLength}`,
        source,
        limits.maxQueryLength,
      );
    }
    this.tokens = tokenize(source);
  }

  parseQuery(): QueryAst {
    const start = this.peek().start;
    const body = this.parseBody();
    const pipes: PipeNode[] = [];
    while (this.isPunct('|')) pipes.push(this.parsePipe());
    if (this.peek().kind !== 'eof') this.unexpected();
    return { kind: 'query', body, pipes, start, end: this.source.length };
  }

  // ---- queries -------------------------------------------------------------------------------

  private parseBody(): QueryBodyNode {
    const token = this.peek();
    if (this.isKeyword('sequence')) return this.parseSequence();
    if (this.isKeyword('sample')) return this.parseSample();
    if (this.isKeyword('join')) this.fail(EqlErrorCode.UnsupportedFeature, 'join queries are not supported', token);
    const filter = this.parseEventFilter();
    return { kind: 'eventQuery', filter, start: filter.start, end: filter.end };
  }

  private parseSequence(): QueryBodyNode {
    const start = this.next().start;
    let joinKeys: ExpressionNode[] = [];
    let maxspanMs: number | null = null;
    if (this.isKeyword('by')) joinKeys = this.parseJoinKeys();
    if (this.isKeyword('with')) {
      this.next();
      this.expectParameter('maxspan');
      maxspanMs = this.parseTimeSpan();
      if (joinKeys.length === 0 && this.isKeyword('by')) joinKeys = this.parseJoinKeys();
    }
    const terms: SequenceTermNode[] = [];
    while (this.isPunct('[') || this.isPunct('!')) terms.push(this.parseSequenceTerm(true));
    let until: SequenceTermNode | null = null;
    if (this.isKeyword('until')) {
      this.next();
      until = this.parseSequenceTerm(false);
    }
    const stageCount = terms.reduce((n, t) => n + t.runs, 0);
    if (stageCount < 2) {
      this.fail(EqlErrorCode.UnexpectedToken, `a sequence needs at least two stages, found ${stageCount}`, this.peek());
    }
    const resolved = this.resolveStageNames(joinKeys, terms, until);
    return { kind: 'sequenceQuery', joinKeys: resolved.joinKeys, maxspanMs, terms: resolved.terms, until: resolved.until, start, end: this.previousEnd() };
  }

  /**
   * Turns `name.field` in a stage into a reference to the event the earlier stage `name` matched.
   * A name used where no earlier matched event exists (the stage itself or a later one, join keys,
   * `until`, a lineage subquery) is an error rather than a field that is silently never there.
   */
  private resolveStageNames(joinKeys: ExpressionNode[], terms: SequenceTermNode[], until: SequenceTermNode | null) {
    const named = new Map<string, { stage: number; term: number }>();
    let stage = 0;
    terms.forEach((term, index) => {
      if (term.alias !== null) named.set(term.alias, { stage, term: index });
      stage += term.runs;
    });
    if (named.size === 0) return { joinKeys, terms, until };
    const refuse = (node: FieldNode, why: string): never =>
      this.failAt(EqlErrorCode.InvalidArgument, `'${node.path[0]}' ${why}`, node.start, node.path[0]!.length);
    const rewrite = (node: ExpressionNode, termIndex: number | null, inLineage: boolean): ExpressionNode => {
      if (node.kind === 'field') {
        const target = named.get(node.path[0]!);
        if (target === undefined || node.path.length < 2) return node;
        if (termIndex === null) return refuse(node, 'names a stage; join keys and until cannot read an earlier stage');
        if (inLineage) return refuse(node, 'names a stage; a lineage subquery cannot read an earlier stage');
        if (target.term >= termIndex) return refuse(node, 'names this stage or a later one; only an earlier stage can be read');
        const path = node.path.slice(1);
        return { kind: 'stageField', alias: node.path[0]!, stage: target.stage, path, name: path.join('.'), start: node.start, end: node.end };
      }
      if (node.kind === 'lineage') {
        const condition = rewrite(node.filter.condition, termIndex, true);
        return condition === node.filter.condition ? node : { ...node, filter: { ...node.filter, condition } };
      }
      const children = expressionChildren(node);
      if (children.length === 0) return node;
      const mapped = children.map((child) => rewrite(child, termIndex, inLineage));
      if (mapped.every((child, i) => child === children[i])) return node;
      return rebuild(node, mapped);
    };
    const rewriteTerm = (term: SequenceTermNode, termIndex: number | null): SequenceTermNode => ({
      ...term,
      filter: { ...term.filter, condition: rewrite(term.filter.condition, termIndex, false) },
      joinKeys: term.joinKeys.map((key) => rewrite(key, null, false)),
    });
    return {
      joinKeys: joinKeys.map((key) => rewrite(key, null, false)),
      terms: terms.map((term, index) => rewriteTerm(term, index)),
      until: until === null ? null : rewriteTerm(until, null),
    };
  }

  private parseSample(): QueryBodyNode {
    const start = this.next().start;
    const joinKeys = this.isKeyword('by') ? this.parseJoinKeys() : [];
    const terms: SequenceTermNode[] = [];
    while (this.isPunct('[')) terms.push(this.parseSequenceTerm(false));
    if (terms.length < 1) this.unexpected();
    return { kind: 'sampleQuery', joinKeys, terms, start, end: this.previousEnd() };
  }

  private parseSequenceTerm(allowExtras: boolean): SequenceTermNode {
    const start = this.peek().start;
    let missing = false;
    if (this.isPunct('!')) {
      if (!allowExtras) this.unexpected();
      this.next();
      missing = true;
    }
    this.expectPunct('[');
    const filter = this.parseEventFilter();
    this.expectPunct(']');
    const alias = this.parseStageName(allowExtras);
    const joinKeys = this.isKeyword('by') ? this.parseJoinKeys() : [];
    let runs = 1;
    if (allowExtras && this.isKeyword('with')) {
      const withToken = this.next();
      this.expectParameter('runs');
      const token = this.peek();
      if (token.kind !== 'number' || token.isFloat) this.fail(EqlErrorCode.InvalidArgument, 'runs must be an integer', token);
      this.next();
      runs = Number(token.value);
      if (runs < 1 || runs > 100) this.fail(EqlErrorCode.InvalidArgument, 'runs must be between 1 and 100', token);
      if (alias !== null && runs > 1) this.fail(EqlErrorCode.InvalidArgument, 'a named stage cannot repeat (with runs)', withToken);
    }
    return { kind: 'sequenceTerm', filter, joinKeys, runs, missing, alias: alias?.name ?? null, start, end: this.previousEnd() };
  }

  /** Defend's `as <name>` after a stage's `]`; null when there is none. */
  private parseStageName(allowed: boolean): { name: string } | null {
    const token = this.peek();
    if (token.kind !== 'identifier' || token.value.toLowerCase() !== 'as') return null;
    if (this.dialect !== 'defend') {
      this.fail(EqlErrorCode.UnsupportedFeature, "named stages ('as <name>') are Elastic Defend's dialect, not Elasticsearch EQL", token);
    }
    if (!allowed) this.fail(EqlErrorCode.InvalidArgument, 'only a stage of a sequence can be named', token);
    this.next();
    const name = this.peek();
    if (name.kind !== 'identifier') this.fail(EqlErrorCode.UnexpectedToken, `expected a stage name after 'as', found ${describe(name)}`, name);
    if (this.stageNames.has(name.value)) this.fail(EqlErrorCode.InvalidArgument, `stage name '${name.value}' is already used`, name);
    this.stageNames.add(name.value);
    this.next();
    return { name: name.value };
  }

  private parseJoinKeys(): ExpressionNode[] {
    this.next(); // by
    const keys = [this.parseExpression()];
    while (this.isPunct(',')) {
      this.next();
      keys.push(this.parseExpression());
      this.checkListSize(keys.length, this.peek());
    }
    return keys;
  }

  private expectParameter(name: string): void {
    const token = this.peek();
    if (token.kind !== 'identifier' || token.value.toLowerCase() !== name) {
      this.fail(EqlErrorCode.UnexpectedToken, `expected '${name}', found ${describe(token)}`, token);
    }
    this.next();
    this.expectPunct('=');
  }

  private parseTimeSpan(): number {
    const numberToken = this.peek();
    if (numberToken.kind !== 'number') {
      this.fail(EqlErrorCode.InvalidTimeSpan, `expected a time span such as 30s, found ${describe(numberToken)}`, numberToken);
    }
    this.next();
    const unitToken = this.peek();
    const factor = unitToken.kind === 'identifier' && !unitToken.spaceBefore ? TIME_UNITS[unitToken.value] : undefined;
    if (factor === undefined) {
      this.fail(EqlErrorCode.InvalidTimeSpan, 'expected a time unit (ms, s, m, h or d) right after the number', unitToken);
    }
    this.next();
    const span = Number(numberToken.value) * factor;
    if (!(span > 0)) this.fail(EqlErrorCode.InvalidTimeSpan, 'maxspan must be positive', numberToken);
    return span;
  }

  private parseEventFilter(): EventFilterNode {
    const token = this.peek();
    let category: string | null;
    if (token.kind === 'identifier' || token.kind === 'quotedIdentifier' || token.kind === 'string') {
      category = token.kind === 'identifier' && token.value.toLowerCase() === 'any' ? null : token.value;
      this.next();
    } else {
      return this.fail(EqlErrorCode.UnexpectedToken, `expected an event category, found ${describe(token)}`, token);
    }
    const where = this.peek();
    if (!this.isKeyword('where')) this.unexpected(where);
    this.next();
    const condition = this.parseExpression();
    return { kind: 'eventFilter', category, condition, start: token.start, end: condition.end };
  }

  private parsePipe(): PipeNode {
    const start = this.next().start;
    const nameToken = this.peek();
    if (nameToken.kind !== 'identifier') this.unexpected(nameToken);
    this.next();
    const args: ExpressionNode[] = [];
    if (!this.isPunct('|') && this.peek().kind !== 'eof') {
      args.push(this.parseExpression());
      while (this.isPunct(',')) {
        this.next();
        args.push(this.parseExpression());
      }
    }
    return { kind: 'pipe', name: nameToken.value.toLowerCase(), args, start, end: this.previousEnd() };
  }

  // ---- expressions ---------------------------------------------------------------------------

  parseExpression(): ExpressionNode {
    this.enter();
    const node = this.parseLogical('or');
    this.depth--;
    return node;
  }

  private parseLogical(op: 'and' | 'or'): ExpressionNode {
    const parseOperand = (): ExpressionNode => (op === 'or' ? this.parseLogical('and') : this.parseNot());
    const first = parseOperand();
    if (!this.isKeyword(op)) return first;
    const operands = [first];
    while (this.isKeyword(op)) {
      this.next();
      operands.push(parseOperand());
    }
    return { kind: 'logical', op, operands, start: first.start, end: operands[operands.length - 1].end };
  }

  private parseNot(): ExpressionNode {
    if (this.isLineage()) return this.parseLineage();
    if (!this.isKeyword('not')) return this.parsePredicate();
    const start = this.next().start;
    this.enter();
    const operand = this.parseNot();
    this.depth--;
    return { kind: 'not', operand, start, end: operand.end };
  }

  /** `descendant of`, `child of` or `event of` (the relation word in any case, as keywords are). */
  private isLineage(): boolean {
    const token = this.peek();
    const after = this.tokens[this.index + 1];
    return token.kind === 'identifier' && LINEAGE_RELATIONS.has(token.value.toLowerCase()) && after.kind === 'keyword' && after.value === 'of';
  }

  private parseLineage(): LineageNode {
    const relation = this.next();
    const of = this.next();
    const word = relation.value.toLowerCase() as LineageRelation;
    if (this.dialect !== 'defend') {
      this.failAt(
        EqlErrorCode.UnsupportedFeature,
        `'${word} of' (process lineage) is Elastic Defend's dialect, not Elasticsearch EQL`,
        relation.start,
        of.end - relation.start,
      );
    }
    this.enter();
    this.expectPunct('[');
    const filter = this.parseEventFilter();
    const end = this.expectPunct(']').end;
    this.depth--;
    return { kind: 'lineage', relation: word, filter, start: relation.start, end };
  }

  private parsePredicate(): ExpressionNode {
    const value = this.parseComparison();
    const token = this.peek();
    let negated = false;
    if (token.kind === 'keyword' && token.value === 'not') {
      const after = this.tokens[this.index + 1];
      if (after.kind === 'keyword' && (after.value === 'in' || after.value === 'in~')) {
        this.next();
        negated = true;
      } else {
        return value;
      }
    }
    const op = this.peek();
    if (op.kind === 'keyword' && (op.value === 'in' || op.value === 'in~')) {
      this.next();
      this.expectPunct('(');
      const list = [this.parseExpression()];
      while (this.isPunct(',')) {
        this.next();
        list.push(this.parseExpression());
        this.checkListSize(list.length, this.peek());
      }
      const end = this.expectPunct(')').end;
      return { kind: 'in', negated, caseInsensitive: op.value === 'in~', value, list, start: value.start, end };
    }
    const isMatch =
      (op.kind === 'punct' && op.value === ':') ||
      (op.kind === 'keyword' && ['like', 'like~', 'regex', 'regex~'].includes(op.value));
    if (!isMatch) return value;
    this.next();
    const patterns: LiteralNode[] = [];
    let end: number;
    if (this.isPunct('(')) {
      this.next();
      patterns.push(this.parseStringConstant(op.value));
      while (this.isPunct(',')) {
        this.next();
        patterns.push(this.parseStringConstant(op.value));
        this.checkListSize(patterns.length, this.peek());
      }
      end = this.expectPunct(')').end;
    } else {
      const pattern = this.parseStringConstant(op.value);
      patterns.push(pattern);
      end = pattern.end;
    }
    const matchOp = op.value === ':' ? ':' : op.value.startsWith('like') ? 'like' : 'regex';
    const caseInsensitive = op.value === ':' || op.value.endsWith('~');
    return { kind: 'match', op: matchOp, caseInsensitive, value, patterns, start: value.start, end };
  }

  private parseStringConstant(operator: string): LiteralNode {
    const token = this.peek();
    if (token.kind !== 'string') {
      this.fail(EqlErrorCode.InvalidArgument, `'${operator}' expects string constants, found ${describe(token)}`, token);
    }
    this.next();
    return { kind: 'literal', value: token.value, isFloat: false, start: token.start, end: token.end };
  }

  private parseComparison(): ExpressionNode {
    const left = this.parseAdditive();
    const token = this.peek();
    if (token.kind !== 'punct' || !COMPARISON_OPERATORS.has(token.value)) return left;
    this.next();
    const right = this.parseAdditive();
    return { kind: 'comparison', op: token.value as ComparisonOperator, left, right, start: left.start, end: right.end };
  }

  private parseAdditive(): ExpressionNode {
    return this.parseBinaryChain(['+', '-'], () => this.parseMultiplicative());
  }

  private parseMultiplicative(): ExpressionNode {
    return this.parseBinaryChain(['*', '/', '%'], () => this.parseUnary());
  }

  private parseBinaryChain(operators: string[], operand: () => ExpressionNode): ExpressionNode {
    let left = operand();
    const depthBefore = this.depth;
    while (this.peek().kind === 'punct' && operators.includes(this.peek().value)) {
      const op = this.next().value as '+' | '-' | '*' | '/' | '%';
      this.enter(); // a chain nests to the left, so each link is one level deeper
      const right = operand();
      left = { kind: 'arithmetic', op, left, right, start: left.start, end: right.end };
    }
    this.depth = depthBefore;
    return left;
  }

  private parseUnary(): ExpressionNode {
    const token = this.peek();
    if (token.kind === 'punct' && (token.value === '-' || token.value === '+')) {
      this.next();
      this.enter();
      const operand = this.parseUnary();
      this.depth--;
      if (token.value === '+') return { ...operand, start: token.start };
      if (operand.kind === 'literal' && typeof operand.value === 'number') {
        return { ...operand, value: -operand.value, start: token.start };
      }
      return { kind: 'negate', operand, start: token.start, end: operand.end };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ExpressionNode {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
        this.next();
        return { kind: 'literal', value: Number(token.value), isFloat: token.isFloat === true, start: token.start, end: token.end };
      case 'string':
        this.next();
        return { kind: 'literal', value: token.value, isFloat: false, start: token.start, end: token.end };
      case 'keyword':
        if (token.value === 'true' || token.value === 'false' || token.value === 'null') {
          this.next();
          const value = token.value === 'null' ? null : token.value === 'true';
          return { kind: 'literal', value, isFloat: false, start: token.start, end: token.end };
        }
        return this.unexpected(token);
      case 'punct':
        if (token.value === '(') {
          this.next();
          const inner = this.parseExpression();
          const close = this.expectPunct(')');
          return { ...inner, start: token.start, end: close.end };
        }
        if (token.value === '?') {
          this.next();
          const fieldToken = this.peek();
          if (fieldToken.spaceBefore || (fieldToken.kind !== 'identifier' && fieldToken.kind !== 'quotedIdentifier')) {
            return this.fail(EqlErrorCode.UnexpectedToken, `expected a field name right after '?', found ${describe(fieldToken)}`, fieldToken);
          }
          const field = this.parseField();
          return { ...field, optional: true, start: token.start };
        }
        return this.unexpected(token);
      case 'identifier': {
        const after = this.tokens[this.index + 1];
        const afterTwo = this.tokens[this.index + 2];
        // Blanks may separate a function's name from its '(' (both grammars skip them there).
        if (after.kind === 'punct' && after.value === '(') return this.parseCall(false);
        if (after.kind === 'punct' && after.value === '~' && !after.spaceBefore && afterTwo.kind === 'punct' && afterTwo.value === '(') {
          return this.parseCall(true);
        }
        return this.parseField();
      }
      case 'quotedIdentifier':
        return this.parseField();
      case 'eof':
        return this.unexpected(token);
    }
  }

  private parseCall(caseInsensitive: boolean): ExpressionNode {
    const nameToken = this.next();
    if (caseInsensitive) this.next();
    this.next(); // (
    this.enter();
    const args: ExpressionNode[] = [];
    if (!this.isPunct(')')) {
      args.push(this.parseExpression());
      while (this.isPunct(',')) {
        this.next();
        args.push(this.parseExpression());
        this.checkListSize(args.length, this.peek());
      }
    }
    const end = this.expectPunct(')').end;
    this.depth--;
    return { kind: 'call', name: nameToken.value, caseInsensitive, args, start: nameToken.start, end };
  }

  private parseField(): FieldNode {
    const first = this.next();
    const path = [first.value];
    let end = first.end;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'punct' && token.value === '.' && !token.spaceBefore) {
        const part = this.tokens[this.index + 1];
        if (part.spaceBefore || !(part.kind === 'identifier' || part.kind === 'quotedIdentifier' || part.kind === 'keyword' || part.kind === 'number')) {
          this.fail(EqlErrorCode.UnexpectedToken, `expected a field name after '.', found ${describe(part)}`, part);
        }
        this.next();
        this.next();
        path.push(part.kind === 'keyword' ? this.source.slice(part.start, part.end) : part.value);
        end = part.end;
      } else if (token.kind === 'punct' && token.value === '[' && !token.spaceBefore) {
        // array index, e.g. process.args[0]
        this.next();
        const indexToken = this.peek();
        if (indexToken.kind !== 'number' || indexToken.isFloat) {
          this.fail(EqlErrorCode.UnexpectedToken, `expected an array index, found ${describe(indexToken)}`, indexToken);
        }
        this.next();
        path.push(indexToken.value);
        end = this.expectPunct(']').end;
      } else {
        break;
      }
    }
    return { kind: 'field', path, name: path.join('.'), optional: false, start: first.start, end };
  }

  // ---- helpers -------------------------------------------------------------------------------

  private enter(): void {
    this.depth++;
    if (this.depth > this.limits.maxDepth) {
      this.fail(EqlErrorCode.NestingTooDeep, `expression nests deeper than the limit of ${this.limits.maxDepth}`, this.peek());
    }
  }

  private checkListSize(size: number, token: Token): void {
    if (size > this.limits.maxListSize) {
      this.fail(EqlErrorCode.ListTooLarge, `list has more than ${this.limits.maxListSize} entries`, token);
    }
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== 'eof') this.index++;
    return token;
  }

  private previousEnd(): number {
    return this.index > 0 ? this.tokens[this.index - 1].end : 0;
  }

  private isPunct(value: string): boolean {
    const token = this.peek();
    return token.kind === 'punct' && token.value === value;
  }

  private isKeyword(value: string): boolean {
    const token = this.peek();
    return token.kind === 'keyword' && token.value === value;
  }

  private expectPunct(value: string): Token {
    const token = this.peek();
    if (token.kind !== 'punct' || token.value !== value) {
      this.fail(EqlErrorCode.UnexpectedToken, `expected '${value}', found ${describe(token)}`, token);
    }
    return this.next();
  }

  private unexpected(token: Token = this.peek()): never {
    if (token.kind === 'eof') return this.fail(EqlErrorCode.UnexpectedToken, 'unexpected end of query', token);
    return this.fail(EqlErrorCode.UnexpectedToken, `unexpected token '${this.source.slice(token.start, token.end)}'`, token);
  }

  private fail(code: Code, detail: string, token: Token): never {
    throw new EqlError(code, detail, this.source, token.start, token.end - token.start);
  }

  private failAt(code: Code, detail: string, start: number, length: number): never {
    throw new EqlError(code, detail, this.source, start, length);
  }
}

/** `node` with its direct children replaced, in expressionChildren's order. */
function rebuild(node: ExpressionNode, children: ExpressionNode[]): ExpressionNode {
  switch (node.kind) {
    case 'comparison':
    case 'arithmetic':
      return { ...node, left: children[0]!, right: children[1]! } as ExpressionNode;
    case 'match':
      return { ...node, value: children[0]! };
    case 'in':
      return { ...node, value: children[0]!, list: children.slice(1) };
    case 'logical':
      return { ...node, operands: children };
    case 'not':
    case 'negate':
      return { ...node, operand: children[0]! } as ExpressionNode;
    case 'call':
      return { ...node, args: children };
    default:
      return node;
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'end of query';
    case 'string':
      return `string ${JSON.stringify(token.value)}`;
    case 'quotedIdentifier':
      return `\`${token.value}\``;
    default:
      return `'${token.value}'`;
  }
}
