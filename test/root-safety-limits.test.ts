// Issue 16, item 4: decompression bombs and hostile sizes. A small gzip (perf script text or
// pprof) must not expand into gigabytes: past the limit (100x the compressed size, at least
// 64 MB; --max-expansion overrides) it is one line and exit 65; samples and stack nodes are
// bounded by the profile builder. The bombs are written by the attacker (nobody) and read by a
// root crosstalk.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pprofOf } from '../src/formats/pprof-export.ts';
import { ProfileBuilder } from '../src/model/builder.ts';
import { ProfileLimitError } from '../src/model/limits.ts';
import { attackerDir, attackerShell, attackerUnavailable } from './support/attacker.ts';
import { runCli } from './support/cli.ts';
import { profileFromText } from './support/profile-text.ts';

const skip = attackerUnavailable();

// The attacker writes gzip bombs with python (a few hundred KB each).
const makeBombs = `
import gzip, sys
d = sys.argv[1]
blk = b'bomb 1/1 [000] 1.000000: 1 cpu-clock:\\n\\tffffffff81000000 f ([kernel.kallsyms])\\n\\n'
with gzip.open(d + '/text.gz', 'wb', 9) as f:
    f.write(blk * ((80 << 20) // len(blk)))
# pprof: a real small profile, then string_table (field 6) entries, 2 bytes each, 150 MB of them.
head = gzip.decompress(open(d + '/small.pb.gz', 'rb').read())
with gzip.open(d + '/profile.pb.gz', 'wb', 9) as f:
    f.write(head + b'\\x32\\x00' * (75 << 20))
`;

describe.skipIf(skip !== null)(`decompression limits${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dir = '';
  beforeAll(() => {
    dir = attackerDir();
    const small = pprofOf(profileFromText('app;main;work 5\napp;main;idle 2\n'));
    writeFileSync(join(dir, 'small.pb.gz'), small);
    attackerShell('python3 -c "$2" "$1"', dir, makeBombs);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a perf script text bomb: one line, exit 65, the override lets it through', async () => {
    const r = await runCli(['analyze', join(dir, 'text.gz')]);
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/expands at most 100x .*--max-expansion/);
    const ok = await runCli(['analyze', '--max-expansion', '1000', join(dir, 'text.gz')]);
    expect(ok.stderr).not.toMatch(/expands at most/);
    expect(ok.code).toBe(0);
  });

  it('a gzipped pprof bomb: one line, exit 65 (it used to exhaust memory and crash V8)', async () => {
    const r = await runCli(['analyze', join(dir, 'profile.pb.gz')]);
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/profile\.pb\.gz: expected compressed data that expands at most 100x/);
  });

  it('a bad --max-expansion is a usage error', async () => {
    const r = await runCli(['analyze', '--max-expansion', 'lots', join(dir, 'text.gz')]);
    expect(r.code).toBe(64);
  });
});

describe('sample and stack limits', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'crosstalk-i16-limits-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('the builder refuses samples and stack nodes past its limits', () => {
    const b = new ProfileBuilder('hostile.txt', 'folded');
    b.limits.samples = 2;
    b.limits.stackNodes = 3;
    const f = b.frame('f', 'm', 0, false, null);
    const s = b.stackOf([f, f, f]);
    expect(() => b.stackOf([f, f, f, f])).toThrow(ProfileLimitError);
    const sample = { stack: s, time: 0, weight: 1, pid: 1, tid: 1, cpu: 0, comm: 0, cgroup: 0 };
    b.addSample(sample);
    b.addSample(sample);
    expect(() => b.addSample(sample)).toThrow(/hostile\.txt: expected at most 2 samples/);
  });
});
