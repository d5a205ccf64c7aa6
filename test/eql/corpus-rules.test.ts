// Every EQL query of Elastic's Linux process and sequence rules must parse and compile.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { compileQuery, EqlError } from '../../src/eql/index.js';
import { describeWithCorpus, CORPUS_DIR } from '../support/corpus.js';

const CORPUS = CORPUS_DIR;

function ruleQueries(folder: string): { file: string; query: string }[] {
  const dir = path.join(CORPUS, folder);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.toml'))
    .sort()
    .map((file) => {
      const document = parse(readFileSync(path.join(dir, file), 'utf8')) as { rule?: { query?: unknown } };
      const query = document.rule?.query;
      if (typeof query !== 'string') throw new Error(`${folder}/${file}: rule.query is not a string`);
      return { file, query };
    });
}

function compileOrRender(query: string): string {
  try {
    compileQuery(query);
    return 'ok';
  } catch (error) {
    return error instanceof EqlError ? error.render() : String(error);
  }
}

describeWithCorpus('elastic-linux-process rules compile', () => {
  const rules = ruleQueries('elastic-linux-process');
  it('holds 236 rules', () => expect(rules).toHaveLength(236));
  it.each(rules)('$file', ({ query }) => {
    expect(compileOrRender(query)).toBe('ok');
    const compiled = compileQuery(query);
    expect(compiled.kind).toBe('event');
    expect(compiled.fields.length).toBeGreaterThan(0);
  });
});

describeWithCorpus('elastic-linux-sequence rules compile', () => {
  const rules = ruleQueries('elastic-linux-sequence');
  it('holds 30 rules', () => expect(rules).toHaveLength(30));
  it.each(rules)('$file', ({ query }) => {
    expect(compileOrRender(query)).toBe('ok');
    const compiled = compileQuery(query);
    expect(compiled.kind).toBe('sequence');
    if (compiled.kind === 'sequence') expect(compiled.categories.length).toBeGreaterThanOrEqual(2);
  });
});
