import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffJsonSchema } from '../src/report/diff-schema.ts';
import { analyzeJsonSchema } from '../src/report/schema.ts';
import { watchEventJsonSchema } from '../src/report/watch-event-schema.ts';

describe('published JSON schemas', () => {
  it.each([
    ['analyze.schema.json', analyzeJsonSchema],
    ['diff.schema.json', diffJsonSchema],
    ['watch-event.schema.json', watchEventJsonSchema],
  ])('schema/%s is what src/report generates (run `npm run schema`)', (file, generate) => {
    const checkedIn = JSON.parse(readFileSync(new URL(`../schema/${file}`, import.meta.url), 'utf8'));
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(generate())));
  });
});
