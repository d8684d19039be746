/**
 * Checks made before recording, each answering with a typed problem: what is wrong, in one line,
 * and the exact remedy. Fatal problems stop the recording before anything is written; warnings are
 * kept in the run's metadata (the run will lack something, e.g. slab counts without root).
 *
 * The decisive check is a real 0.1 s probe recording with the options the run will use: whether the
 * kernel and perf accept --all-cgroups and the call-graph mode is read back from the probe's attr
 * (sample_type carries PERF_SAMPLE_CGROUP and CALLCHAIN, or REGS_USER|STACK_USER for dwarf).
 */
import { mkdtemp, open, readFile, rm, statfs } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  callGraphOf,
  FILE_HEADER_SIZE,
  parseFileHeader,
  readAt,
  readAttrs,
} from '../formats/perf-data/file-header.ts';
import { SampleType } from '../formats/perf-data/sample-layout.ts';
import { type CgroupHierarchies, cgroupHierarchies } from './cgroup-fs.ts';
import { spawnCommand } from './command-runner.ts';
import { readSysctlNumber } from './host-facts.ts';
import { findOnPath, perfBuildOption, perfVersion } from './perf-tool.ts';
import { SYSCALL_SAMPLE_PERIOD, syscallCounterArgs } from './syscall-rates.ts';

export type CallGraphMode = 'fp' | 'dwarf';

export type ProblemCode =
  | 'perf-missing'
  | 'perf-unusable'
  | 'perf-event-paranoid'
  | 'not-root'
  | 'kptr-restrict'
  | 'no-cgroup-sampling'
  | 'no-cgroup-v2'
  | 'no-call-graph'
  | 'no-syscall-tracepoint'
  | 'disk-space'
  | 'store-unwritable';

/** What kind of failure, so the CLI can pick an exit code without knowing every code. */
export type ProblemKind = 'permission' | 'missing-tool' | 'unsupported' | 'resources';

export interface PreflightProblem {
  code: ProblemCode;
  severity: 'fatal' | 'warning';
  kind: ProblemKind;
  /** What is wrong, one line, no remedy. */
  message: string;
  /** The exact command or step that fixes it. */
  remedy: string;
}

export interface PreflightOptions {
  callGraph: CallGraphMode;
  /** Sampling frequency, Hz. */
  frequency: number;
  durationSeconds: number;
  /** Where the run will be written (need not exist yet). */
  storeRoot: string;
  /** Whether the syscall counter will run (its tracepoint is then checked). Default true. */
  syscallRates?: boolean;
  /** Environment whose PATH finds perf. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface PreflightReport {
  problems: PreflightProblem[];
  /** Any fatal problem: do not record. */
  fatal: boolean;
  perfPath: string | null;
  perfVersion: string | null;
  privileged: boolean;
  hierarchies: CgroupHierarchies;
  /** Bytes the run is expected to take (perf.data estimate plus margin). */
  estimatedBytes: number;
}

/** One line for the user: what is wrong, then the remedy. */
export function formatProblem(p: PreflightProblem): string {
  return `${p.message}; fix: ${p.remedy}`;
}

const problem = (
  code: ProblemCode,
  severity: PreflightProblem['severity'],
  kind: ProblemKind,
  message: string,
  remedy: string,
): PreflightProblem => ({ code, severity, kind, message, remedy });

export async function preflight(opts: PreflightOptions): Promise<PreflightReport> {
  const env = opts.env ?? process.env;
  const problems: PreflightProblem[] = [];
  const hierarchies = await cgroupHierarchies();
  const privileged = await isPrivileged();
  const estimatedBytes = estimateRunBytes(opts);
  const report = (perfPath: string | null, version: string | null): PreflightReport => ({
    problems,
    fatal: problems.some((p) => p.severity === 'fatal'),
    perfPath,
    perfVersion: version,
    privileged,
    hierarchies,
    estimatedBytes,
  });
  problems.push(...(await checkStore(opts.storeRoot, estimatedBytes)));
  if (!hierarchies.v2) problems.push(noCgroupV2());
  const perfPath = await findOnPath('perf', env);
  if (perfPath === null) {
    problems.push(
      problem(
        'perf-missing',
        'fatal',
        'missing-tool',
        'perf is not installed (not on PATH)',
        'apt-get install linux-perf',
      ),
    );
    return report(null, null);
  }
  const version = await perfVersion(perfPath, env);
  if (version === null) {
    problems.push(
      problem(
        'perf-unusable',
        'fatal',
        'missing-tool',
        `${perfPath} does not run (perf version failed)`,
        'reinstall perf for this kernel: apt-get install --reinstall linux-perf',
      ),
    );
    return report(perfPath, null);
  }
  problems.push(...(await checkPermissions(privileged, opts.syscallRates ?? true)));
  problems.push(...(await checkKernelSymbols()));
  if (!problems.some((p) => p.severity === 'fatal'))
    problems.push(...(await probeRecording(perfPath, opts, env)));
  return report(perfPath, version);
}

/** CAP_SYS_ADMIN (21) or CAP_PERFMON (38) in the effective set, or uid 0. */
async function isPrivileged(): Promise<boolean> {
  if (process.geteuid?.() === 0) return true;
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return false;
  const caps = BigInt(`0x${m[1]}`);
  return ((caps >> 21n) & 1n) === 1n || ((caps >> 38n) & 1n) === 1n;
}

/**
 * Unprivileged users need kernel.perf_event_paranoid <= 0 for system-wide (-a) sampling and -1 for
 * raw tracepoint samples (the syscall counter). Root (CAP_PERFMON) is not subject to it.
 */
async function checkPermissions(privileged: boolean, syscallRates: boolean): Promise<PreflightProblem[]> {
  if (privileged) return [];
  const paranoid = await readSysctlNumber('kernel.perf_event_paranoid');
  const out = [
    problem(
      'not-root',
      'warning',
      'permission',
      'not running as root: /proc/slabinfo and some cgroup files will be missing from the run',
      'run as root: sudo crosstalk record',
    ),
  ];
  if (paranoid !== null && paranoid > 0) {
    out.push(
      problem(
        'perf-event-paranoid',
        'fatal',
        'permission',
        `kernel.perf_event_paranoid is ${paranoid}: a non-root user may not record the whole system`,
        'run as root (sudo crosstalk record), or: sysctl kernel.perf_event_paranoid=-1',
      ),
    );
  } else if (paranoid === 0 && syscallRates) {
    out.push(
      problem(
        'perf-event-paranoid',
        'warning',
        'permission',
        'kernel.perf_event_paranoid is 0: a non-root user may not count syscalls (raw tracepoint samples); the run will have no syscall rates',
        'run as root (sudo crosstalk record), or: sysctl kernel.perf_event_paranoid=-1',
      ),
    );
  }
  return out;
}

/**
 * perf names kernel functions from /proc/kallsyms; with kernel.kptr_restrict hiding the addresses
 * from this user (1 for non-root, 2 for everyone) every kernel frame is an unnamed address and the
 * analysis cannot tell which syscall or kernel path the time went to.
 */
async function checkKernelSymbols(): Promise<PreflightProblem[]> {
  const head = await readHead('/proc/kallsyms', 4096);
  if (head === null) return [];
  const addresses = head
    .split('\n')
    .slice(0, -1)
    .map((l) => l.split(' ')[0]);
  if (addresses.length === 0 || addresses.some((a) => /[1-9a-f]/.test(a))) return [];
  const level = await readSysctlNumber('kernel.kptr_restrict');
  return [
    problem(
      'kptr-restrict',
      'fatal',
      'permission',
      `kernel symbol addresses are hidden (kernel.kptr_restrict=${level ?? '?'}): kernel frames and syscalls cannot be named`,
      'sysctl kernel.kptr_restrict=0',
    ),
  ];
}

async function readHead(path: string, bytes: number): Promise<string | null> {
  try {
    const fh = await open(path, 'r');
    try {
      return (await readAt(fh, 0, bytes)).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

function noCgroupV2(): PreflightProblem {
  return problem(
    'no-cgroup-v2',
    'warning',
    'unsupported',
    'no cgroup v2 hierarchy is mounted: perf tags samples with cgroup v2 ids, so every sample will be in "/"',
    'mount -t cgroup2 none /sys/fs/cgroup/unified (or boot with systemd.unified_cgroup_hierarchy=1)',
  );
}

/** Bytes per sample: fp callchains (~60 frames x 8 B plus header); dwarf adds an 8 KiB stack copy. */
const BYTES_PER_SAMPLE = { fp: 600, dwarf: 8192 + 700 } as const;
/** Headroom for the syscall counter, synthesized mmap events and metadata. */
const RUN_MARGIN_BYTES = 64 * 1024 * 1024;

export function estimateRunBytes(
  opts: Pick<PreflightOptions, 'callGraph' | 'frequency' | 'durationSeconds'>,
  cpus = cpuCount(),
): number {
  return (
    Math.ceil(opts.frequency * cpus * opts.durationSeconds * BYTES_PER_SAMPLE[opts.callGraph]) +
    RUN_MARGIN_BYTES
  );
}

/** Online CPUs: a system-wide profile samples each of them, whatever this process's affinity. */
function cpuCount(): number {
  return Math.max(1, cpus().length);
}

async function checkStore(root: string, needed: number): Promise<PreflightProblem[]> {
  let dir = root;
  // The store may not exist yet: measure the filesystem it will be created on.
  for (;;) {
    try {
      const s = await statfs(dir);
      const free = s.bavail * s.bsize;
      if (free >= needed) return [];
      return [
        problem(
          'disk-space',
          'fatal',
          'resources',
          `only ${mib(free)} MiB free on the store's filesystem (${dir}); this run needs about ${mib(needed)} MiB`,
          'free space there, shorten --duration, or record to a larger filesystem with --store DIR',
        ),
      ];
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(dir) === dir) {
        return [
          problem(
            'store-unwritable',
            'fatal',
            'resources',
            `cannot use the run store at ${root} (${code})`,
            'choose a writable directory with --store DIR or CROSSTALK_STORE',
          ),
        ];
      }
      dir = dirname(dir);
    }
  }
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/** Records 0.1 s with the run's options into a temporary directory and reads back what perf asked for. */
async function probeRecording(
  perfPath: string,
  opts: PreflightOptions,
  env: NodeJS.ProcessEnv,
): Promise<PreflightProblem[]> {
  const dir = await mkdtemp(join(tmpdir(), 'crosstalk-probe-'));
  try {
    const [profile, syscalls, dwarf] = await Promise.all([
      probeProfile(perfPath, opts, dir, env),
      (opts.syscallRates ?? true) ? probeSyscalls(perfPath, dir, env) : [],
      opts.callGraph === 'dwarf' ? checkDwarfUnwind(perfPath, env) : [],
    ]);
    return [...profile, ...dwarf, ...syscalls];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function callGraphArgs(mode: CallGraphMode, dwarfStackBytes = 8192): string[] {
  return mode === 'fp' ? ['--call-graph', 'fp'] : ['--call-graph', `dwarf,${dwarfStackBytes}`];
}

async function probeProfile(
  perfPath: string,
  opts: PreflightOptions,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<PreflightProblem[]> {
  const file = join(dir, 'probe.data');
  const args = [
    'record',
    '-a',
    '--all-cgroups',
    '-N',
    '-F',
    String(opts.frequency),
    ...callGraphArgs(opts.callGraph),
    '-o',
    file,
    '--',
    'sleep',
    '0.1',
  ];
  const r = await spawnCommand(perfPath, args, { timeoutMs: 30_000, env });
  if (r.kind !== 'exited')
    return [
      problem(
        'perf-unusable',
        'fatal',
        'missing-tool',
        `perf record did not run (${r.kind})`,
        'reinstall perf: apt-get install --reinstall linux-perf',
      ),
    ];
  if (r.code !== 0) return [classifyProbeFailure(r.stderr, opts.callGraph)];
  const sampleType = await firstSampleType(file);
  const out: PreflightProblem[] = [];
  if (sampleType === null || (sampleType.bits & SampleType.CGROUP) === 0)
    out.push(noCgroupSampling('perf did not ask the kernel for sample cgroups'));
  if (sampleType !== null && sampleType.callGraph !== opts.callGraph)
    out.push(
      noCallGraph(
        opts.callGraph,
        sampleType.callGraph === 'none'
          ? 'the probe recording carries no call chains'
          : `perf recorded ${sampleType.callGraph} call graphs`,
      ),
    );
  return out;
}

async function firstSampleType(file: string): Promise<{ bits: number; callGraph: string } | null> {
  try {
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), file);
      const [attr] = await readAttrs(fh, header, size, file);
      return { bits: attr.sampleType, callGraph: callGraphOf(attr) };
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** perf's error text for the failures that have a known remedy. */
export function classifyProbeFailure(stderr: string, mode: CallGraphMode): PreflightProblem {
  const first =
    stderr
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? 'no message';
  if (/unknown option.*all-cgroups/i.test(stderr))
    return noCgroupSampling(`this perf has no --all-cgroups (${first})`);
  if (/cgroup/i.test(stderr)) return noCgroupSampling(first);
  if (/Permission denied|perf_event_paranoid|Access to performance monitoring/i.test(stderr)) {
    return problem(
      'perf-event-paranoid',
      'fatal',
      'permission',
      `perf may not record the whole system (${first})`,
      'run as root (sudo crosstalk record), or: sysctl kernel.perf_event_paranoid=-1',
    );
  }
  if (/call-graph|callchain|dwarf|unwind/i.test(stderr)) return noCallGraph(mode, first);
  return problem(
    'perf-unusable',
    'fatal',
    'missing-tool',
    `perf record failed: ${first}`,
    'check that perf matches the running kernel: apt-get install linux-perf',
  );
}

function noCgroupSampling(why: string): PreflightProblem {
  return problem(
    'no-cgroup-sampling',
    'fatal',
    'unsupported',
    `perf cannot tag samples with their cgroup (${why})`,
    'use perf >= 5.7 on a kernel >= 5.7 built with CONFIG_CGROUP_PERF (apt-get install linux-perf)',
  );
}

function noCallGraph(mode: CallGraphMode, why: string): PreflightProblem {
  const remedy =
    mode === 'dwarf'
      ? 'record with --call-graph fp, or install a perf built with libdw or libunwind'
      : 'use a perf and kernel with call-graph support (CONFIG_PERF_EVENTS), or record with --call-graph dwarf';
  return problem('no-call-graph', 'fatal', 'unsupported', `no ${mode} call graphs (${why})`, remedy);
}

async function checkDwarfUnwind(perfPath: string, env: NodeJS.ProcessEnv): Promise<PreflightProblem[]> {
  const [libdw, libunwind] = await Promise.all([
    perfBuildOption(perfPath, 'libdw-dwarf-unwind', env),
    perfBuildOption(perfPath, 'libunwind', env),
  ]);
  if (libdw === false && libunwind !== true)
    return [noCallGraph('dwarf', 'this perf was built without a DWARF unwinder')];
  return [];
}

async function probeSyscalls(
  perfPath: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<PreflightProblem[]> {
  const file = join(dir, 'syscalls.data');
  const args = [
    'record',
    '-a',
    '--all-cgroups',
    '-N',
    ...syscallCounterArgs(SYSCALL_SAMPLE_PERIOD),
    '-o',
    file,
    '--',
    'sleep',
    '0.05',
  ];
  const r = await spawnCommand(perfPath, args, { timeoutMs: 30_000, env });
  if (r.kind === 'exited' && r.code === 0) return [];
  const why =
    r.kind === 'exited'
      ? (r.stderr
          .split('\n')
          .find((l) => l.trim() !== '')
          ?.trim() ?? `exit ${r.code}`)
      : r.kind;
  return [
    problem(
      'no-syscall-tracepoint',
      'warning',
      'unsupported',
      `cannot count syscalls with raw_syscalls:sys_enter (${why}); the run will have no syscall rates`,
      'mount tracefs: mount -t tracefs nodev /sys/kernel/tracing (the kernel needs CONFIG_FTRACE_SYSCALLS)',
    ),
  ];
}
