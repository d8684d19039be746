// Parsers of the live collectors, on text captured from this kind of host (Debian 12, kernel 6.18).
import { describe, expect, it } from 'vitest';
import { parseCgroupMounts } from '../src/collect/cgroup-fs.ts';
import { countCpuList } from '../src/collect/host-facts.ts';
import {
  parseCpuTimes,
  parseDentryState,
  parseKeyValues,
  parsePressure,
  parseSlabinfo,
} from '../src/collect/kernel-state.ts';
import { summarizePerfExit } from '../src/collect/perf-recording.ts';
import { classifyProbeFailure, estimateRunBytes } from '../src/collect/preflight.ts';
import {
  parseSyscallReport,
  parseUnistdHeader,
  ratesFromRows,
  syscallNames,
} from '../src/collect/syscall-rates.ts';
import { X86_64_SYSCALLS } from '../src/collect/syscall-table-x86_64.ts';

describe('cgroup mounts', () => {
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '50 23 0:40 /docker/abc /mnt/with\\040space rw - cgroup cgroup rw,cpu,cpuacct',
  ].join('\n');

  it('finds v1 controllers and the v2 mount, unescaping paths', () => {
    const mounts = parseCgroupMounts(mountinfo);
    expect(mounts.map((m) => [m.version, m.mountPoint, m.root, m.controllers.join(',')])).toEqual([
      [1, '/sys/fs/cgroup/cpu', '/', 'cpu'],
      [1, '/sys/fs/cgroup/memory', '/', 'memory'],
      [1, '/sys/fs/cgroup/systemd', '/', 'name=systemd'],
      [2, '/sys/fs/cgroup/unified', '/', ''],
      [1, '/mnt/with space', '/docker/abc', 'cpu,cpuacct'],
    ]);
  });
});

describe('kernel state files', () => {
  it('parses PSI with and without a full line', () => {
    const p = parsePressure(
      'some avg10=0.83 avg60=0.97 avg300=1.08 total=8468662\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    );
    expect(p.some).toEqual({ avg10: 0.83, avg60: 0.97, avg300: 1.08, total: 8468662 });
    expect(p.full?.total).toBe(0);
    expect(parsePressure('some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n').full).toBeNull();
    expect(parsePressure('garbage\n')).toEqual({ some: null, full: null });
  });

  it('parses dentry-state, including negative dentries', () => {
    expect(parseDentryState('17384\t15886\t45\t0\t6143\t0\n')).toEqual({
      nrDentry: 17384,
      nrUnused: 15886,
      ageLimit: 45,
      wantPages: 0,
      nrNegative: 6143,
    });
    expect(parseDentryState('1 2 3\n')).toBeNull();
  });

  it('keeps only dentry and inode slab rows that hold objects', () => {
    const text = [
      'slabinfo - version: 2.1',
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
      'ext4_inode_cache    8820   8820   1128   14    4 : tunables    0    0    0 : slabdata    630    630      0',
      'xfs_inode              0      0   1024   16    4 : tunables    0    0    0 : slabdata      0      0      0',
      'kmalloc-64          5000   5120     64   64    1 : tunables    0    0    0 : slabdata     80     80      0',
      'dentry             17444  17724    192   21    1 : tunables    0    0    0 : slabdata    844    844      0',
    ].join('\n');
    expect(parseSlabinfo(text)).toEqual([
      { name: 'ext4_inode_cache', activeObjs: 8820, numObjs: 8820, objSize: 1128, bytes: 8820 * 1128 },
      { name: 'dentry', activeObjs: 17444, numObjs: 17724, objSize: 192, bytes: 17724 * 192 },
    ]);
  });

  it('parses the all-CPU line of /proc/stat for steal time', () => {
    // head -2 /proc/stat on this VM (kernel 6.18).
    const text =
      'cpu  338397 346 40362 79329 681 0 641 755 0 0\ncpu0 169198 173 20181 39664 340 0 320 377 0 0\n';
    expect(parseCpuTimes(text)).toEqual({
      steal: 755,
      total: 338397 + 346 + 40362 + 79329 + 681 + 641 + 755,
    });
    // Before 2.6.11 there was no steal column.
    expect(parseCpuTimes('cpu  1 2 3 4 5 6 7\n')).toBeNull();
  });

  it('parses vmstat, cpu.stat and meminfo lines', () => {
    expect(parseKeyValues('nr_free_pages 123\npgfault 9\n')).toEqual({ nr_free_pages: 123, pgfault: 9 });
    expect(parseKeyValues('usage_usec 10\nnr_throttled 2\nthrottled_usec 300\n')).toMatchObject({
      nr_throttled: 2,
    });
    expect(parseKeyValues('MemTotal:       24684084 kB\nActive(file):     100 kB\n')).toEqual({
      MemTotal: 24684084,
      'Active(file)': 100,
    });
  });

  it('counts CPU lists', () => {
    expect(countCpuList('0-1\n')).toBe(2);
    expect(countCpuList('0-3,8,10-11')).toBe(7);
    expect(countCpuList('x')).toBeNull();
  });
});

describe('syscall rates', () => {
  // perf report --sort cgroup,raw_syscalls:sys_enter.id -n --stdio -t '|' -q, recorded here.
  const report = [
    ' 99.94% | 12415      |/ctprobe|                 0',
    ' 0.02%  | 3          |/       |                 0',
    ' 0.01%  | 1          |/       |               221',
    ' 0.01%  | 2          |/odd|name|             1',
    '',
  ].join('\n');

  it('parses rows, keeping a cgroup name that contains the separator', () => {
    expect(parseSyscallReport(report)).toEqual([
      { cgroup: '/ctprobe', nr: 0, samples: 12415 },
      { cgroup: '/', nr: 0, samples: 3 },
      { cgroup: '/', nr: 221, samples: 1 },
      { cgroup: '/odd|name', nr: 1, samples: 2 },
    ]);
  });

  it('turns samples into calls per second, busiest first', () => {
    const rates = ratesFromRows(parseSyscallReport(report), 101, 2, (nr) => X86_64_SYSCALLS[nr]);
    expect(rates.map((r) => r.cgroup)).toEqual(['/ctprobe', '/', '/odd|name']);
    expect(rates[0].perSecond).toBeCloseTo((12415 * 101) / 2);
    expect(rates[1].top.map((t) => [t.name, t.samples])).toEqual([
      ['read', 3],
      ['fadvise64', 1],
    ]);
    expect(rates[1].estimatedCalls).toBe(4 * 101);
  });

  it('names syscalls from kernel headers, the built-in table, or numbers', async () => {
    const header = parseUnistdHeader('#define __NR_read 0\n#define __NR_fadvise64 221\n#ifdef X\n');
    expect([...header]).toEqual([
      [0, 'read'],
      [221, 'fadvise64'],
    ]);
    expect(X86_64_SYSCALLS[221]).toBe('fadvise64');
    expect(X86_64_SYSCALLS[462]).toBe('mseal');
    expect(X86_64_SYSCALLS[335]).toBe('');
    const none = await syscallNames('riscv64');
    expect(none.source).toBe('numbers only');
    expect(none.nameOf(7)).toBe('syscall_7');
  });
});

describe('perf stderr', () => {
  it('summarizes perf record output without the routine lines', () => {
    const e = summarizePerfExit(
      null,
      'SIGINT',
      'Events disabled\nEvents enabled\n[ perf record: Woken up 2 times to write data ]\n[ perf record: Captured and wrote 0.070 MB n.data (132 samples) ]\n',
    );
    expect(e).toMatchObject({ samples: 132, megabytes: 0.07, diskFull: false });
    expect(e.summary).toEqual(['[ perf record: Captured and wrote 0.070 MB n.data (132 samples) ]']);
  });

  it('notices a full disk', () => {
    const e = summarizePerfExit(
      255,
      null,
      'failed to write perf data, error: No space left on device\n'.repeat(3),
    );
    expect(e.diskFull).toBe(true);
    expect(e.summary).toEqual(['failed to write perf data, error: No space left on device']);
  });

  it('classifies probe failures with their remedies', () => {
    // perf < 5.7 has no --all-cgroups: parse-options prints this and the usage.
    const old = classifyProbeFailure("  Error: unknown option `all-cgroups'\n\n Usage: perf record", 'fp');
    expect(old.code).toBe('no-cgroup-sampling');
    expect(old.remedy).toMatch(/perf >= 5\.7/);
    const denied = classifyProbeFailure(
      'Error:\nAccess to performance monitoring and observability operations is limited.',
      'fp',
    );
    expect(denied.code).toBe('perf-event-paranoid');
    expect(classifyProbeFailure('Error: something odd\n', 'fp').code).toBe('perf-unusable');
  });

  it('estimates dwarf runs an order of magnitude larger than fp', () => {
    const fp = estimateRunBytes({ callGraph: 'fp', frequency: 99, durationSeconds: 600 }, 64);
    const dwarf = estimateRunBytes({ callGraph: 'dwarf', frequency: 99, durationSeconds: 600 }, 64);
    expect(dwarf / fp).toBeGreaterThan(10);
  });
});
