// Issue 16, item 3: forged samples through symbol names. An unprivileged user's binary has a
// function whose name holds newlines and text shaped like perf script samples (a "victim" process
// in fadvise). perf script prints symbol names raw; before the fix crosstalk parsed those lines as
// real samples and blamed a process that did nothing. The perf.data's own record count is the
// check now. Runs perf record on one command (the attacker's, as nobody): holds the system lock.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPerfData } from '../src/formats/perf-data/import.ts';
import { parsePerfScript } from '../src/formats/perf-script/parser.ts';
import { attackerDir, attackerShell, attackerUnavailable } from './support/attacker.ts';
import { runCli } from './support/cli.ts';

const perfMissing = spawnSync('perf', ['--version']).status !== 0 ? 'perf is not installed' : null;
const ccMissing = spawnSync('cc', ['--version']).status !== 0 ? 'no C compiler' : null;
const skip = attackerUnavailable() ?? perfMissing ?? ccMissing;

const PLACEHOLDER = 'A'.repeat(700);
const source = `#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void ${PLACEHOLDER}(void) {
  for (unsigned long i = 0; i < 200000; i++) sink += i;
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  double end = now() + atof(argv[1]);
  while (now() < end) ${PLACEHOLDER}();
  return 0;
}
`;

/** Two whole fake samples of a "victim" stuck in fadvise, then a frame line perf completes. */
function forgedName(): Buffer {
  const sample = (t: string) =>
    `\n\nvictim 4242/4242   ${t}:    2004008 cpu-clock: \n` +
    '\tffffffff81234567 generic_fadvise ([kernel.kallsyms])\n' +
    '\tffffffff81234568 ksys_fadvise64_64 ([kernel.kallsyms])\n' +
    '\tffffffff81234569 __x64_sys_fadvise64 ([kernel.kallsyms])\n';
  let text = `${sample('1.000000001')}${sample('1.000000002')}\n\nvictim 4242/4242   1.000000003:    2004008 cpu-clock: \n\t1 pad`;
  text += 'x'.repeat(PLACEHOLDER.length - text.length);
  const b = Buffer.from(text);
  expect(b.length).toBe(PLACEHOLDER.length);
  return b;
}

function patch(binary: string): void {
  const bytes = readFileSync(binary);
  const from = Buffer.from(PLACEHOLDER);
  const to = forgedName();
  let n = 0;
  for (let i = bytes.indexOf(from); i !== -1; i = bytes.indexOf(from, i + to.length)) {
    to.copy(bytes, i);
    n++;
  }
  expect(n).toBeGreaterThan(0);
  writeFileSync(binary, bytes);
}

describe.skipIf(skip !== null)(
  `forged samples through symbol names${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let dir = '';
    let data = '';
    let clean = '';
    beforeAll(() => {
      dir = attackerDir();
      writeFileSync(join(dir, 'evil.c'), source);
      attackerShell(
        'cd "$1" && cc -O1 -fno-omit-frame-pointer -o evil evil.c && cc -O2 -fno-omit-frame-pointer -o clean evil.c',
        dir,
      );
      patch(join(dir, 'evil'));
      clean = join(dir, 'clean.data');
      execFileSync(
        'perf',
        ['record', '-q', '-e', 'cpu-clock', '-g', '-F', '499', '-o', clean, '--', join(dir, 'clean'), '0.3'],
        {
          stdio: 'ignore',
        },
      );
      data = join(dir, 'evil.data');
      execFileSync(
        'perf',
        [
          'record',
          '-q',
          '-e',
          'cpu-clock',
          '-g',
          '-F',
          '499',
          '-o',
          data,
          '--',
          'runuser',
          '-u',
          'nobody',
          '--',
          join(dir, 'evil'),
          '0.6',
        ],
        { stdio: 'ignore' },
      );
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the attack works on perf script text: the forged lines parse as samples of "victim"', async () => {
      const text = execFileSync(
        'perf',
        ['script', '-f', '-i', data, '-F', 'comm,pid,tid,time,period,event,ip,sym,dso', '--ns'],
        {
          maxBuffer: 1 << 28,
        },
      );
      const p = await parsePerfScript(
        (async function* () {
          yield new Uint8Array(text);
        })(),
        'evil.txt',
      );
      const comms = new Set<string>();
      for (let i = 0; i < p.samples.comm.length; i++) comms.add(p.strings[p.samples.comm[i]]);
      expect(comms.has('victim')).toBe(true);
    });

    // Through perf script (DWARF recordings, recordings with context switches, --decoder
    // perf-script) the text is what could be forged, so the count check must refuse it.
    const viaText = { decoder: 'perf-script' as const };

    it('importing the perf.data through perf script refuses it instead of blaming the victim', async () => {
      await expect(importPerfData(data, viaText)).rejects.toThrow(
        /perf script printed \d+ samples; the file holds \d+/,
      );
    });

    it("doctor's strict count refuses it too, and passes an honest recording of the same program", async () => {
      await expect(importPerfData(data, { ...viaText, strictSampleCount: true })).rejects.toThrow(
        /shaped like samples/,
      );
      const p = await importPerfData(clean, { ...viaText, strictSampleCount: true });
      expect(p.samples.comm.length).toBe(Number(p.meta.recording.samplesInFile));
      expect(p.samples.comm.length).toBeGreaterThan(0);
    });

    it('the native decoder reads records, not text: no forged sample, every sample the file holds', async () => {
      const p = await importPerfData(data, { decoder: 'native' });
      const comms = new Set<string>();
      for (let i = 0; i < p.samples.comm.length; i++) comms.add(p.strings[p.samples.comm[i]]);
      expect(comms.has('victim')).toBe(false);
      expect(p.samples.comm.length).toBe(Number(p.meta.recording.samplesInFile));
    });

    it('analyze --decoder perf-script exits 65 with one line naming the file', async () => {
      const r = await runCli(['analyze', '--decoder', 'perf-script', data]);
      expect(r.code).toBe(65);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(data);
      expect(r.stderr).toMatch(/shaped like samples/);
    });
  },
);
