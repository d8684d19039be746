/**
 * Process names, symbols, module paths and cgroup names come from the profiled host: a report of
 * a host running hostile software must show them as text and run none of them. Two inputs:
 *   - a perf script text file crafted with long payloads (comm, kernel and user symbols, DSOs);
 *   - a real recording (with context switches, as crosstalk record makes) of a compiled program
 *     whose comm (prctl) and function symbol (asm label) are HTML payloads, running in a cgroup
 *     whose name is one.
 * Each report is opened in Chromium twice: as is, and with its Content-Security-Policy bypassed,
 * so the rendering itself is shown to be text-only, not merely saved by the CSP.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileEventArgs } from '../src/collect/recording-session.ts';
import { importProfile } from '../src/formats/input.ts';
import { analyzeLoaded } from '../src/pipeline/analyze.ts';
import { loadedProfile } from '../src/pipeline/load.ts';
import { analysisReport } from '../src/pipeline/report.ts';
import { writeHtmlReport } from '../src/report/html/html-report.ts';
import { TestCgroups } from './record-cgroups.ts';
import { browserSkipReason, type OpenReport, ReportBrowser, visibleText } from './support/html-browser.ts';

const COMM = '<img src=x onerror=alert(1)>';
const KERNEL_SYM = '</script><script>alert(2)</script>';
const USER_SYM = '<svg onload=alert(3)>';
const DSO = '/opt/<iframe src=javascript:alert(4)>/lib.so';

/** perf script text: 3 s of samples, half in read() called from a hostile function. */
function craftedPerfScript(): string {
  const out: string[] = [];
  for (let i = 0; i < 300; i++) {
    const t = (100 + i * 0.01).toFixed(6);
    out.push(`${COMM}  4242 [000]   ${t}:     200040 cpu-clock:pppH: `);
    if (i % 2 === 0) {
      out.push(
        `\tffffffff81000010 ${KERNEL_SYM}+0x10 ([kernel.kallsyms])`,
        '\tffffffff81000020 vfs_read+0x20 ([kernel.kallsyms])',
        '\tffffffff81000030 __x64_sys_read+0x10 ([kernel.kallsyms])',
        '\tffffffff81000040 do_syscall_64+0x40 ([kernel.kallsyms])',
        '\tffffffff81000050 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])',
        '\t          11ba0c __GI___libc_read+0x4c (/usr/lib/x86_64-linux-gnu/libc.so.6)',
      );
    }
    out.push(
      `\t          401000 ${USER_SYM}+0x10 (${DSO})`,
      '\t          401100 main+0x5 (/usr/bin/app)',
      '',
    );
  }
  return out.join('\n');
}

const HOSTILE_C = `
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
/* read(2) issued inline, so the payload function is the call site (libc's wrapper has no frame pointer). */
static inline long raw_read(int fd, void *buf, unsigned long n) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(0L), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
  return ret;
#else
  return read(fd, buf, n);
#endif
}
/* The symbol of this function is an HTML payload (GNU as accepts quoted symbol names). */
__attribute__((noinline)) void hostile_work(void) __asm__("\\"<img src=x onerror=alert(5)>\\"");
__attribute__((noinline)) void hostile_work(void) {
  char buf[64];
  int fd = open("/dev/zero", O_RDONLY);
  for (int i = 0; i < 20000; i++)
    if (raw_read(fd, buf, sizeof buf) < 0) break;
  close(fd);
  for (volatile int i = 0; i < 200000; i++) {
  }
}
int main(void) {
  prctl(PR_SET_NAME, "<svg onload=6>", 0, 0, 0);
  for (;;) {
    hostile_work();
    usleep(500); /* blocked time for the off-CPU section, under the hostile names */
  }
}
`;

function recordingSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (perf record -a, cgroup creation)';
  if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc)';
  return null;
}

async function writeReport(input: string, file: string): Promise<void> {
  const loaded = loadedProfile(await importProfile(input));
  await writeHtmlReport(file, analysisReport(loaded, analyzeLoaded(loaded)));
}

/** What a payload could have made: its tags, any on* attribute, scripts beyond the page's two. */
async function injected(
  r: OpenReport,
): Promise<{ tags: number; handlers: number; scripts: number; title: string }> {
  return r.page.evaluate(() => ({
    tags: document.querySelectorAll('img, svg, iframe, b').length,
    handlers: [...document.querySelectorAll('*')].filter((e) =>
      [...e.attributes].some((a) => a.name.startsWith('on')),
    ).length,
    scripts: document.querySelectorAll('script').length,
    title: document.title,
  }));
}

async function expectInert(r: OpenReport): Promise<void> {
  expect(r.dialogs).toEqual([]);
  expect(r.errors).toEqual([]);
  expect(r.requests).toEqual([]);
  const found = await injected(r);
  expect(found).toMatchObject({ tags: 0, handlers: 0, scripts: 2 });
}

/** Opens `file` twice: as is, and with its Content-Security-Policy bypassed. */
async function openWithAndWithoutCsp(file: string, browsers: ReportBrowser[], opened: OpenReport[]) {
  for (const bypassCSP of [false, true]) {
    const b = await ReportBrowser.launch({ bypassCSP });
    browsers.push(b);
    opened.push(await b.open(file));
  }
}

/** Frames the flame-graph search finds for `q`. */
async function searchHits(r: OpenReport, q: string): Promise<number> {
  await r.page.locator('#flame .flame-search').fill(q);
  const n = Number(await r.page.locator('#flame canvas').getAttribute('data-highlighted'));
  await r.page.locator('#flame .flame-search').fill('');
  return n;
}

const browserReason = browserSkipReason();

describe.skipIf(browserReason !== null)(
  `hostile names in a crafted profile${browserReason ? ` (skipped: ${browserReason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-html-hostile-'));
    const browsers: ReportBrowser[] = [];
    const opened: OpenReport[] = [];

    beforeAll(async () => {
      const input = join(dir, 'hostile.perf.txt');
      writeFileSync(input, craftedPerfScript());
      await writeReport(input, join(dir, 'report.html'));
      await openWithAndWithoutCsp(join(dir, 'report.html'), browsers, opened);
    }, 120_000);

    afterAll(async () => {
      for (const b of browsers) await b.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('shows every payload as text', async () => {
      for (const r of opened) {
        const text = await visibleText(r.page.locator('main'));
        expect(text).toContain(COMM);
        expect(text).toContain(USER_SYM);
        expect(text).toContain(KERNEL_SYM);
        expect(await searchHits(r, 'onload=alert(3)')).toBeGreaterThan(0);
        expect(await searchHits(r, '</script>')).toBeGreaterThan(0);
      }
    });

    it('runs none of them and creates no element from them, with or without the CSP', async () => {
      for (const r of opened) await expectInert(r);
    });
  },
);

const recordingReason = browserReason ?? recordingSkipReason();

describe.skipIf(recordingReason !== null)(
  `hostile names in a real recording${recordingReason ? ` (skipped: ${recordingReason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'crosstalk-html-hostile-rec-'));
    let cgroups: TestCgroups | null = null;
    const browsers: ReportBrowser[] = [];
    const opened: OpenReport[] = [];
    const CGROUP = '<img src=x onerror=alert(7)>';

    beforeAll(async () => {
      writeFileSync(join(dir, 'hostile.c'), HOSTILE_C);
      const bin = join(dir, 'hostile');
      execFileSync('cc', ['-O2', '-g', '-fno-omit-frame-pointer', '-o', bin, join(dir, 'hostile.c')]);
      cgroups = await TestCgroups.create('crosstalk-html-hostile');
      if (!cgroups) throw new Error('no writable cgroup v2 hierarchy');
      await cgroups.start(CGROUP, [bin]);
      const data = join(dir, 'hostile.data');
      execFileSync(
        'perf',
        // The events crosstalk record uses with off-CPU on.
        [
          'record',
          '-q',
          '-a',
          '--all-cgroups',
          ...profileEventArgs(499, true, ['-g']),
          '-o',
          data,
          '--',
          'sleep',
          '2',
        ],
        {
          stdio: 'ignore',
        },
      );
      await cgroups.cleanup();
      await writeReport(data, join(dir, 'report.html'));
      await openWithAndWithoutCsp(join(dir, 'report.html'), browsers, opened);
    }, 120_000);

    afterAll(async () => {
      await cgroups?.cleanup();
      for (const b of browsers) await b.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('shows the cgroup, comm and symbol payloads as text', async () => {
      for (const r of opened) {
        const containers = await visibleText(r.page.locator('#containers'));
        expect(containers).toContain(CGROUP);
        expect(containers).toContain('<svg onload=6>');
        const options = await r.page.locator('#flame select.flame-filter option').allInnerTexts();
        expect(options).toContain(CGROUP);
        expect(await visibleText(r.page.locator('#syscalls'))).toContain('<img src=x onerror=alert(5)>');
        expect(await searchHits(r, 'onerror=alert(5)')).toBeGreaterThan(0);
        expect(await visibleText(r.page.locator('#offcpu'))).toContain(CGROUP);
      }
    });

    it('runs none of them and creates no element from them, with or without the CSP', async () => {
      for (const r of opened) await expectInert(r);
    });
  },
);
