import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeJsonSchema } from '../src/report/schema.ts';

describe('published JSON schema', () => {
  it('schema/analyze.schema.json is what src/report/schema.ts generates (run `npm run schema`)', () => {
    const checkedIn = JSON.parse(
      readFileSync(new URL('../schema/analyze.schema.json', import.meta.url), 'utf8'),
    );
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(analyzeJsonSchema())));
  });
});
