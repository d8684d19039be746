// Regenerates schema/analyze.schema.json from src/report/schema.ts (`npm run schema`).
import { writeFileSync } from 'node:fs';
import { analyzeJsonSchema } from '../src/report/schema.ts';

writeFileSync(
  new URL('../schema/analyze.schema.json', import.meta.url),
  `${JSON.stringify(analyzeJsonSchema(), null, 2)}\n`,
);
