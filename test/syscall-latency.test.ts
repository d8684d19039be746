import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containerOf } from '../src/analysis/containers.ts';
import { levelFindings } from '../src/analysis/diagnose-levels.ts';
import type { Finding } from '../src/analysis/findings.ts';
import {
  diffLatency,
  type LatencyCountsLike,
  quantileNs,
  summarizeLatency,
} from '../src/analysis/syscall-latency.ts';
import { applyVictimSide } from '../src/analysis/victim-harm.ts';
import { latencyFileOf, latencyFromMaps, parseBpftraceJson } from '../src/collect/syscall-latency.ts';
import { signatures } from '../src/signatures/catalog.ts';
import { bucketBounds, bucketOf, parseSyscallLatencyFile } from '../src/store/syscall-latency-file.ts';

// Captured on this machine (bpftrace 0.17, kernel 6.18) with the program of syscallLatencyProgram():
//   bpftrace -f json prog.bt > out.jsonl & sleep 4; ls /nonexistent-i17-a; kill -INT $!
// then trimmed to a few keys per map (see test/fixtures/README.md).
const FIXTURE = readFileSync(new URL('./fixtures/bpftrace-syscall-latency.jsonl', import.meta.url), 'utf8');

const names = (nr: number) =>
  ({ 0: 'read', 1: 'write', 262: 'newfstatat', 257: 'openat' })[nr] ?? `syscall_${nr}`;

describe('bpftrace -f json output', () => {
  it('reads the maps of a real capture, and the file built from them validates', () => {
    const o = parseBpftraceJson(FIXTURE);
    expect(o.attached).toBe(true);
    expect(o.oddLines).toBe(0);
    expect(o.maps.get('@hist')?.size).toBeGreaterThan(0);
    const cgroups = latencyFromMaps(o, names, (id) => (id === 1 ? '/' : null));
    expect(cgroups.length).toBeGreaterThan(0);
    for (const c of cgroups)
      for (const s of c.syscalls) {
        expect(s.histogram.reduce((a, [, n]) => a + n, 0)).toBe(s.calls);
        expect(s.totalNs).toBeGreaterThan(0);
      }
    const file = latencyFileOf(
      {
        output: o,
        windowSeconds: 4,
        startedAt: 'x',
        budgetExhausted: false,
        exit: { code: 0, signal: null },
        stderr: [],
      },
      50_000,
      names,
      (id) => (id === 1 ? '/' : null),
    );
    expect(parseSyscallLatencyFile(JSON.stringify(file), 'f.json').status).toBe('recorded');
  });

  it('survives blank lines, junk, unknown documents and negative syscall ids, and counts the odd lines', () => {
    const o = parseBpftraceJson(
      [
        '{"type": "attached_probes", "data": {"probes": 4}}',
        '',
        'not json',
        '{"type": "printf", "data": "hello"}',
        '{"type": "map", "data": {"@calls": 12}}',
        '{"type": "map", "data": {"@hist": {"7,-1,40": 3, "7,262,41": 5, "7,262,x": 1}}}',
        '{"type": "map", "data": {"@ns": {"7,-1": 300, "7,262": 900}}}',
        '{"type": "map", "data": {"@err": {"7,262,2": 4}}}',
        '{"type": "lost_events", "data": {"events": 9}}',
        '[1,2]',
      ].join('\n'),
    );
    expect(o.oddLines).toBe(2);
    expect(o.scalars.get('@calls')).toBe(12);
    expect(o.lostEvents).toBe(9);
    const [c] = latencyFromMaps(o, names, () => '/x');
    expect(c.syscalls.map((s) => [s.name, s.calls, s.totalNs, s.errors])).toEqual([
      ['newfstatat', 5, 900, [{ errno: 2, count: 4 }]],
      ['unknown', 3, 300, []],
    ]);
  });

  it("a run whose tracer never attached is failed, with bpftrace's reason", () => {
    const o = parseBpftraceJson('');
    const file = latencyFileOf(
      {
        output: o,
        windowSeconds: 0,
        startedAt: null,
        budgetExhausted: false,
        exit: { code: 1, signal: null },
        stderr: ['ERROR: permission denied'],
      },
      50_000,
      names,
      () => null,
    );
    expect(file).toMatchObject({ status: 'failed', reason: 'ERROR: permission denied' });
  });

  it('a corrupt syscall-latency.json is an error that names the file and the field', () => {
    expect(() => parseSyscallLatencyFile('{', '/r/syscall-latency.json')).toThrow(
      /\/r\/syscall-latency.json.*not JSON/,
    );
    expect(() =>
      parseSyscallLatencyFile(
        JSON.stringify({ schema: 'crosstalk.syscall-latency/1', status: 'nope' }),
        '/r/s.json',
      ),
    ).toThrow(/\/r\/s.json: expected syscall latency counts.*status/);
  });
});

describe('log-linear buckets and quantiles', () => {
  it('every duration falls inside the bounds of its bucket (the eBPF arithmetic, in JS)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (ns) => {
        const { low, high } = bucketBounds(bucketOf(ns));
        return low <= ns && ns < high;
      }),
    );
  });

  it('p50 and p99 are within 12% of the exact quantiles (log2 buckets would allow 2x)', () => {
    // Seeded lognormal-ish latencies around 5 us with a tail.
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const xs: number[] = [];
    for (let i = 0; i < 20_000; i++)
      xs.push(
        Math.round(
          5000 * Math.exp(0.8 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())),
        ),
      );
    const hist = new Map<number, number>();
    for (const x of xs) hist.set(bucketOf(x), (hist.get(bucketOf(x)) ?? 0) + 1);
    const sorted = [...xs].sort((a, b) => a - b);
    for (const q of [0.5, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1];
      const est = quantileNs([...hist], q);
      expect(Math.abs(est / exact - 1)).toBeLessThan(0.12);
    }
  });
});

const lab = (name: string) => `/crosstalk-lab/run-1-a-abcdef/${name}`;

function countsOf(
  rows: { cg: string; name: string; calls: number; ns: number; p: number; enoent?: number }[],
): LatencyCountsLike {
  return {
    status: 'recorded',
    reason: null,
    windowSeconds: 2,
    budget: { maxCallsPerCpuSecond: 50_000, exhausted: false },
    cgroups: rows.map((r, k) => ({
      id: k + 10,
      path: r.cg,
      syscalls: [
        {
          name: r.name,
          calls: r.calls,
          totalNs: r.ns * r.calls,
          // All calls in the bucket of `p` ns: p50 = p99 within the bucket.
          histogram: [[bucketOf(r.p), r.calls]],
          errors: r.enoent ? [{ errno: 2, count: r.enoent }] : [],
        },
      ],
    })),
  };
}

describe('per-container latency summary', () => {
  it('merges cgroups of one container, gives calls/s, errors/s by errno and quantiles in us', () => {
    const s = summarizeLatency(
      countsOf([
        { cg: lab('prober-1'), name: 'newfstatat', calls: 1000, ns: 2000, p: 2000, enoent: 1000 },
        { cg: `${lab('prober-1')}/sub`, name: 'newfstatat', calls: 1000, ns: 2000, p: 2000, enoent: 1000 },
        { cg: lab('static-1'), name: 'newfstatat', calls: 500, ns: 3000, p: 3000 },
      ]),
      containerOf,
    );
    const prober = s.containers.find((c) => c.name === 'prober-1')!;
    expect(prober.syscalls[0]).toMatchObject({
      calls: 2000,
      callsPerSecond: 1000,
      errorsPerSecond: 1000,
      meanUs: 2,
    });
    expect(prober.syscalls[0].errors).toEqual([{ errno: 2, name: 'ENOENT', count: 2000, perSecond: 1000 }]);
    expect(prober.syscalls[0].p50Us).toBeGreaterThan(1.7);
    expect(prober.syscalls[0].p50Us).toBeLessThan(2.4);
  });
});

const victimId = (name: string) => containerOf(lab(name)).id;

function finding(over: Partial<Finding> = {}): Finding {
  return {
    signature: 'negative-dentries',
    kind: 'signature',
    title: 'Negative dentries',
    severity: 'critical',
    impact: 0.3,
    antagonist: { container: victimId('prober-1'), name: 'prober-1', process: 'cache-prober' },
    victims: [{ container: victimId('static-1'), name: 'static-1', reasons: ['in-path', 'pressure'] }],
    sharedStorm: false,
    syscall: 'newfstatat',
    callSite: null,
    callSiteNote: null,
    kernelPath: [],
    resource: null,
    evidence: [],
    fix: 'fix it',
    references: [],
    confidence: 'high',
    basis: ['signature'],
    ...over,
  };
}

/** A system container with a near-empty syscall in both runs: the tracer's floor (0.3 us here). */
/** static-1's off-CPU change: no blocked time, runnable tasks from `baseline` to `target`. */
function runnableGrowth(baseline: number, target: number, delta: number) {
  return {
    id: victimId('static-1'),
    name: 'static-1',
    blocked: { baseline: 0, target: 0, delta: 0 },
    runnable: { baseline, target, delta },
    syscalls: [],
  };
}

/** static-1's latency: 20k newfstatat calls of 2 us. */
const staticLatency = () =>
  summarizeLatency(
    countsOf([{ cg: lab('static-1'), name: 'newfstatat', calls: 20_000, ns: 2000, p: 2000 }]),
    containerOf,
  );

const FLOOR_ROW = { cg: '/system.slice/cron.service', name: 'getppid', calls: 5_000, ns: 300, p: 300 };

function withBaseline(
  victimBaseUs: number,
  victimTargetUs: number,
  controls: [number, number][] = [],
  over: Partial<Finding> = {},
) {
  // Control containers outside the finding (their rows give the host's drift).
  const control = (i: number, us: number) => ({
    cg: `/system.slice/control-${i}.service`,
    name: 'read',
    calls: 5_000,
    ns: us * 1000,
    p: us * 1000,
  });
  const victim = (us: number) => ({
    cg: lab('static-1'),
    name: 'newfstatat',
    calls: 20_000,
    ns: us * 1000,
    p: us * 1000,
  });
  const base = summarizeLatency(
    countsOf([victim(victimBaseUs), FLOOR_ROW, ...controls.map(([b], i) => control(i, b))]),
    containerOf,
  );
  const target = summarizeLatency(
    countsOf([
      victim(victimTargetUs),
      FLOOR_ROW,
      ...controls.map(([, t], i) => control(i, t)),
      { cg: lab('prober-1'), name: 'newfstatat', calls: 200_000, ns: 2500, p: 2500, enoent: 200_000 },
    ]),
    containerOf,
  );
  const change = diffLatency(base, target, new Map());
  return applyVictimSide([finding(over)], {
    latency: target,
    baselineLatency: base,
    latencyChange: change,
    hasBaseline: true,
  })[0];
}

describe('victim harm', () => {
  it('names the victim with the harm it suffered and takes the severity from it (p99 +180%)', () => {
    const f = withBaseline(2, 5.6);
    expect(f.victims).toHaveLength(1);
    expect(f.victims[0].harm?.summary).toMatch(/^newfstatat p(99|50) \+(1[5-9]\d|2[0-2]\d)%$/);
    expect(f.victims[0].harm?.degraded).toBe(true);
    expect(f.severity).toBe('critical');
    expect(f.severityBasis).toBe('measured-harm');
  });

  it('does not call a container whose latency did not degrade a victim, and says so', () => {
    const f = withBaseline(2, 2.05);
    expect(f.victims).toEqual([]);
    expect(f.severity).toBe('info');
    expect(f.evidence.some((e) => e.metric.startsWith('not harmed: static-1'))).toBe(true);
  });

  it('a moderate degradation (+40%) is a warning', () => {
    expect(withBaseline(4, 5.6).severity).toBe('warning');
  });

  it('a neighbour that slows every container still harms the victim (no discount for the others)', () => {
    // Every other container's read got 60% slower too, by the same neighbour: the victim's +60%
    // is harm, not the host's drift (see harm-noise.ts for why there is no latency drift).
    const all: [number, number][] = [
      [4, 6.4],
      [8, 12.8],
      [10, 16],
    ];
    const f = withBaseline(2, 3.2, all);
    expect(f.victims).toHaveLength(1);
    expect(f.victims[0].harm?.degraded).toBe(true);
    expect(f.severity).toBe('warning');
  });

  it('for CPU contention, slower syscalls are not the harm (runnable time is)', () => {
    const f = withBaseline(2, 5.6, [], { signature: 'runqueue-contention', syscall: null });
    // Kept, as not measured: without switches nothing says whether it waited longer for a CPU.
    expect(f.victims[0].harm?.degraded).toBeNull();
    expect(f.severityBasis).toBe('antagonist-share');
  });

  it("a rise smaller than the tracer's floor in these runs is not harm (sub-microsecond calls)", () => {
    // 0.3 us -> 0.5 us is +67%, but 0.2 us is below the 0.3 us the tracer measures for getppid.
    const f = withBaseline(0.3, 0.5);
    expect(f.victims).toEqual([]);
    expect(f.evidence.find((e) => e.metric.startsWith('not harmed: static-1'))?.metric).toMatch(
      /below the tracer's floor in these runs \(0\.\d\d us\)/,
    );
    expect(withBaseline(0.9, 1.8).victims).toHaveLength(1);
  });

  it('a p99 that moved on a handful of slow calls is within sampling noise', () => {
    const rowsOf = (slow: number) => ({
      status: 'recorded' as const,
      reason: null,
      windowSeconds: 2,
      budget: { maxCallsPerCpuSecond: 50_000, exhausted: false },
      cgroups: [
        {
          id: 10,
          path: lab('static-1'),
          syscalls: [
            {
              name: 'newfstatat',
              calls: 300,
              totalNs: 300 * 3000,
              // 300 calls: 290 near 2 us, then `slow` at 20 us and the rest at 5 us.
              histogram: [
                [bucketOf(2000), 290],
                [bucketOf(5000), 10 - slow],
                [bucketOf(20_000), slow],
              ] as [number, number][],
              errors: [],
            },
          ],
        },
      ],
    });
    const base = summarizeLatency(rowsOf(1), containerOf);
    const target = summarizeLatency(rowsOf(4), containerOf);
    const change = diffLatency(base, target, new Map());
    // The p99 rank is the 297th call: 5 us before, 20 us after, +300% on three calls.
    expect(change[0].syscalls[0].p99Change).toBeGreaterThan(1);
    const [f] = applyVictimSide([finding()], {
      latency: target,
      baselineLatency: base,
      latencyChange: change,
      hasBaseline: true,
    });
    expect(f.victims).toEqual([]);
    expect(f.evidence.some((e) => /within the sampling noise of its call counts/.test(e.metric))).toBe(true);
  });

  it("runnable growth the finding's antagonist did not cause (by the switches) is not harm from it", () => {
    const off = runnableGrowth(0.1, 0.5, 0.4);
    const matrix = (byAntagonist: number) => ({
      windowSeconds: 2,
      victims: [
        {
          id: victimId('static-1'),
          name: 'static-1',
          host: null,
          container: true,
          runnableSeconds: 1,
          onCpuSeconds: 1,
          runnableShare: 0.5,
          byKind: { foreign: 1, self: 0, kernel: 0, idle: 0, unknown: 0 },
          waits: [
            { culprit: victimId('prober-1'), kind: 'foreign' as const, seconds: byAntagonist },
            { culprit: 'other-load', kind: 'foreign' as const, seconds: 1 - byAntagonist },
          ],
        },
      ],
      culprits: [],
      ambiguousSeconds: 0,
    });
    const run = (byAntagonist: number) =>
      applyVictimSide([finding()], {
        latency: null,
        offCpuChange: [off],
        preemption: matrix(byAntagonist),
        hasBaseline: true,
      })[0];
    // 0.02 s of 2 s: the antagonist held its CPU for 0.01 tasks; the other 0.49 were someone else.
    expect(run(0.02).victims[0]?.harm?.degraded ?? null).toBeNull();
    // 0.6 s of 2 s: 0.3 tasks by the antagonist: harm.
    expect(run(0.6).victims[0].harm?.summary).toBe('runnable +0.40 tasks');
  });

  it("runnable growth no larger than the host's drift (other rows' waiting share) is not harm", () => {
    const row = (id: string, share: number) => ({
      id,
      name: id,
      host: null,
      container: true,
      runnableSeconds: share,
      onCpuSeconds: 1 - share,
      runnableShare: share,
      byKind: { foreign: share, self: 0, kernel: 0, idle: 0, unknown: 0 },
      waits: [{ culprit: 'host-load', kind: 'foreign' as const, seconds: share }],
    });
    const matrix = (victim: number, controls: number) => ({
      windowSeconds: 1,
      victims: [row(victimId('static-1'), victim), ...[1, 2, 3].map((i) => row(`control-${i}`, controls))],
      culprits: [],
      ambiguousSeconds: 0,
    });
    const off = runnableGrowth(0.2, 0.5, 0.3);
    const run = (controlsAfter: number) =>
      applyVictimSide([finding({ antagonist: null })], {
        latency: null,
        offCpuChange: [off],
        preemption: matrix(0.5, controlsAfter),
        baselinePreemption: matrix(0.2, 0.1),
        hasBaseline: true,
      })[0];
    // Every control waited 30 points more too: the host got busier, the victim no more than it.
    expect(run(0.4).victims[0].harm?.degraded ?? null).toBeNull();
    // The controls did not move: the victim's +30 points are its own.
    expect(run(0.1).victims[0].harm?.summary).toBe('runnable +0.30 tasks');
  });

  it('runnable growth alone makes a victim degraded', () => {
    const base = staticLatency();
    const change = diffLatency(base, base, new Map());
    const [f] = applyVictimSide([finding()], {
      latency: base,
      latencyChange: change,
      offCpuChange: [runnableGrowth(0.1, 0.5, 0.4)],
      hasBaseline: true,
    });
    expect(f.victims[0].harm?.summary).toContain('runnable +0.40 tasks');
    expect(f.severity).toBe('warning');
  });

  it('runnable growth under a finding that blames no one, with no drift to compare, is not harm', () => {
    const base = staticLatency();
    const judge = (over: Partial<Finding>) =>
      applyVictimSide([finding({ signature: 'runqueue-contention', ...over })], {
        latency: base,
        latencyChange: diffLatency(base, base, new Map()),
        offCpuChange: [runnableGrowth(0.1, 0.19, 0.09)],
        hasBaseline: true,
      })[0];
    const anonymous = judge({ antagonist: null });
    expect(anonymous.victims).toEqual([]);
    // The same growth under a finding that names its antagonist is that antagonist's harm.
    expect(judge({}).victims[0].harm?.summary).toContain('runnable +0.09 tasks');
  });

  it('off-CPU growth of a container new in the target, or blocked time in sleeps, is no harm', () => {
    const sleeper = { id: victimId('static-1'), name: 'static-1' };
    const off = (syscall: string) => ({
      ...sleeper,
      blocked: { baseline: 0, target: 1.9, delta: 1.9 },
      runnable: { baseline: 0, target: 0, delta: 0 },
      syscalls: [{ name: syscall, change: { baseline: 0, target: 1.9, delta: 1.9 } }],
    });
    const run = (syscall: string, matched: Set<string>) =>
      applyVictimSide([finding()], {
        latency: null,
        offCpuChange: [off(syscall)],
        matched,
        hasBaseline: true,
      })[0];
    // New in the target: not a victim of the change, and the evidence says why.
    const fresh = run('read', new Set());
    expect(fresh.victims).toEqual([]);
    expect(
      fresh.evidence.some(
        (e) => e.metric === 'not a victim of the change: static-1 is new since the baseline',
      ),
    ).toBe(true);
    // Matched, but the growth is sleeping in nanosleep: idle, not harm.
    expect(run('nanosleep', new Set([sleeper.id])).victims[0].harm?.degraded).toBeNull();
    // Matched and blocked in a read: degraded.
    expect(run('read', new Set([sleeper.id])).victims[0].harm?.summary).toBe('blocked +1.90 tasks');
    // ... but not by run-queue contention: waiting for a CPU is not blocking in a read.
    const cpu = applyVictimSide([finding({ signature: 'runqueue-contention' })], {
      latency: null,
      offCpuChange: [off('read')],
      matched: new Set([sleeper.id]),
      hasBaseline: true,
    })[0];
    // Its runnable time was measured in both runs and did not grow: not a victim of it.
    expect(cpu.victims).toEqual([]);
  });

  it('without a baseline: levels, severity kept and marked as estimated from the antagonist share', () => {
    const target = summarizeLatency(
      countsOf([
        { cg: lab('static-1'), name: 'newfstatat', calls: 20_000, ns: 3000, p: 3000 },
        { cg: lab('prober-1'), name: 'newfstatat', calls: 200_000, ns: 2500, p: 2500, enoent: 200_000 },
      ]),
      containerOf,
    );
    const [f] = applyVictimSide([finding()], { latency: target, hasBaseline: false });
    expect(f.severity).toBe('critical');
    expect(f.severityBasis).toBe('antagonist-share');
    expect(f.victims[0].harm?.summary).toMatch(
      /^newfstatat p50 [23]\.\d us p99 3\.\d us at 10\.0k calls\/s$/,
    );
    expect(f.victims[0].harm?.degraded).toBeNull();
    // The ENOENT storm behind the negative dentries is evidence.
    expect(f.evidence.find((e) => e.unit === 'calls/s')).toMatchObject({
      metric: expect.stringMatching(
        /^newfstatat calls failing with ENOENT, prober-1 \(100% of its newfstatat calls\)/,
      ),
      value: 100_000,
    });
  });

  it('without latency data a baseline changes nothing about the victims', () => {
    const [f] = applyVictimSide([finding()], { latency: null, hasBaseline: true });
    expect(f.victims).toHaveLength(1);
    expect(f.severity).toBe('critical');
    expect(f.severityBasis).toBe('antagonist-share');
  });
});

describe('negative dentries as a level', () => {
  const counters = (level: number) => ({
    windowSeconds: 2,
    host: new Map([['dentry.negative.level', level]]),
    byContainer: new Map(),
  });

  it('flags a host carrying millions of negative dentries even without growth, with the fix', () => {
    const [f] = levelFindings(signatures(), counters(3_200_000), [], null);
    expect(f.signature).toBe('negative-dentries');
    expect(f.title).toMatch(/3\.2 million negative dentries/);
    expect(f.fix).toMatch(/drop_caches/);
    expect(f.antagonist).toBeNull();
  });

  it('names a live ENOENT storm as the likely source', () => {
    const latency = summarizeLatency(
      countsOf([
        { cg: lab('prober-1'), name: 'newfstatat', calls: 200_000, ns: 2500, p: 2500, enoent: 200_000 },
      ]),
      containerOf,
    );
    const [f] = levelFindings(signatures(), counters(3_200_000), [], latency);
    expect(f.antagonist?.name).toBe('prober-1');
  });

  it('stays quiet below a million, or when the growth finding already covers it', () => {
    expect(levelFindings(signatures(), counters(400_000), [], null)).toEqual([]);
    expect(levelFindings(signatures(), counters(3_200_000), [finding()], null)).toEqual([]);
  });
});
