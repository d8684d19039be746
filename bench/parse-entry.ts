// One measured run: import + analyze + diagnose a file, print timings and peak RSS as JSON.
import { statSync } from 'node:fs';
import { analyzeProfile } from '../src/analysis/analyze.ts';
import { Attributions } from '../src/analysis/attribute.ts';
import { diagnose } from '../src/analysis/diagnose.ts';
import { importProfile } from '../src/formats/input.ts';

const file = process.argv[2];
const t0 = performance.now();
const profile = await importProfile(file);
const t1 = performance.now();
const attributions = new Attributions(profile);
const analysis = analyzeProfile(profile, { attributions });
const findings = diagnose(profile, analysis, { attributions });
const t2 = performance.now();
process.stdout.write(
  `${JSON.stringify({
    bytes: statSync(file).size,
    samples: profile.samples.length,
    parseMs: t1 - t0,
    analyzeMs: t2 - t1,
    totalMs: t2 - t0,
    findings: findings.length,
    maxRssKb: process.resourceUsage().maxRSS,
  })}\n`,
);
