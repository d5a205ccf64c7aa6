/**
 * The two EQL dialects the engine reads. A query is parsed and evaluated in one of them; rule
 * files choose it by their format (detection-rules files: Elasticsearch; Elastic Defend
 * behavior-rule files: Defend), and everything else (the `query` command, exceptions) uses
 * Elasticsearch's.
 *
 * Elastic Defend evaluates its behavior rules on the host with its own EQL engine, which keeps
 * constructs of the original EQL (endgameinc/eql) that Elasticsearch dropped. What Defend's
 * dialect adds, and nothing else differs:
 *
 * - process lineage: `descendant of [q]`, `child of [q]`, `event of [q]` (lineage.ts). In
 *   Elasticsearch's dialect they are a coded error (EQL0205): Elasticsearch parses them and
 *   refuses them too;
 * - named stages and references to them inside a sequence: `[ ... ] as event0`, then in a later
 *   stage `event0.process.command_line` is that field of the event the named stage matched in the
 *   same partial sequence (sequence.ts). In Elasticsearch's dialect `as` after a stage is an error.
 *
 * What is the same in both, checked against the 233 Linux behavior rules, so no switch exists for
 * it: `==`, `!=`, `in` and `like` are case-sensitive and `:`, `in~`, `like~`, `regex~` and the
 * `fn~` functions are not; `like`/`:` patterns use `*` and `?`, `regex` is anchored Lucene syntax
 * (the rules write `.*` at both ends); function names are resolved case-insensitively
 * (`startswith~`, `stringcontains`, `cidrmatch`), and a call may have blanks before its `(`, as
 * both grammars allow (`cidrmatch (`).
 *
 * Ids compared with numbers: Defend keeps user, group and process ids as numbers and its rules
 * write `user.id == 0`, `process.parent.user.id >= 1000`; the events carry `user.id` as the ECS
 * keyword "0". The engine compares a numeric string with a number as numbers (comparison.ts), so
 * these hold for "0" and "1500" as Defend means them. It does so in both dialects: Elasticsearch
 * would refuse `user.id == 0` on a keyword field when verifying the query, which an engine without
 * index mappings cannot tell apart from a numeric field, and detection-rules write
 * `user.id == "0"`, which compares the same way in both.
 */
export type EqlDialect = 'elasticsearch' | 'defend';

export const DEFAULT_DIALECT: EqlDialect = 'elasticsearch';
