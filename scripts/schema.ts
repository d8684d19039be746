// Regenerates the published JSON schemas (`npm run schema`): schema/analyze.schema.json from
// src/report/schema.ts, schema/diff.schema.json from src/report/diff-schema.ts and
// schema/watch-event.schema.json from src/report/watch-event-schema.ts.
import { writeFileSync } from 'node:fs';
import { diffJsonSchema } from '../src/report/diff-schema.ts';
import { analyzeJsonSchema } from '../src/report/schema.ts';
import { watchEventJsonSchema } from '../src/report/watch-event-schema.ts';

const write = (name: string, schema: unknown) =>
  writeFileSync(new URL(`../schema/${name}`, import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
write('analyze.schema.json', analyzeJsonSchema());
write('diff.schema.json', diffJsonSchema());
write('watch-event.schema.json', watchEventJsonSchema());
