/**
 * A seeded, synthetic recording of a host where containers contend: docker containers by cgroup,
 * 12 s of timed samples, a posix_fadvise storm (optional) whose kernel time rises and falls in
 * the same windows as a victim's, user-only work, page faults, a kernel thread and the idle task.
 * Perf script text carries no cgroups and pprof no times, so golden tests of container, window
 * and timeline outputs start here (with the same generator, the same profile every run).
 */
import { ProfileBuilder } from '../../src/model/builder.ts';
import { FrameKind, type Profile } from '../../src/model/profile.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
export const LOGGER_ID = 'a1'.repeat(32);
export const VICTIM_ID = 'b2'.repeat(32);
export const BATCH_ID = 'c3'.repeat(32);
const scope = (id: string) => `/system.slice/docker-${id}.scope`;

const ENTRY = 'entry_SYSCALL_64_[k];do_syscall_64_[k]';
const STACKS = {
  fadvise: `main@/srv/q;LogFileObject::Write@/srv/q;posix_fadvise@${LIBC};${ENTRY};__x64_sys_fadvise64_[k];ksys_fadvise64_64_[k];generic_fadvise_[k];lru_add_drain_all_[k];__flush_work_[k]`,
  invalidate: `main@/srv/q;LogFileObject::Write@/srv/q;posix_fadvise@${LIBC};${ENTRY};__x64_sys_fadvise64_[k];ksys_fadvise64_64_[k];generic_fadvise_[k];invalidate_mapping_pages_[k];mapping_try_invalidate_[k]`,
  query: 'main@/srv/q;Query::Run@/srv/q;Parse@/srv/q',
  victimRead: `main@/srv/v;Serve@/srv/v;__libc_pread64@${LIBC};${ENTRY};__x64_sys_pread64_[k];vfs_read_[k];filemap_read_[k];folio_wait_bit_common_[k]`,
  victimPath: `main@/srv/v;Serve@/srv/v;__libc_write@${LIBC};${ENTRY};__x64_sys_write_[k];ksys_write_[k];lru_add_drain_all_[k];__flush_work_[k]`,
  victimUser: 'main@/srv/v;Serve@/srv/v;Render@/srv/v',
  fault: 'main@/srv/v;Serve@/srv/v;memcpy_[k];asm_exc_page_fault_[k];exc_page_fault_[k];handle_mm_fault_[k]',
  batch: 'main@/srv/b;Crunch@/srv/b;Hash@/srv/b',
  kworker:
    'ret_from_fork_asm_[k];kthread_[k];worker_thread_[k];process_one_work_[k];drain_local_pages_wq_[k]',
  idle: 'secondary_startup_64_[k];cpu_startup_entry_[k];do_idle_[k];default_idle_call_[k]',
};

export interface ContendedHostOptions {
  /** Whether the logger drops its page cache after every line (the storm). Default true. */
  storm?: boolean;
  /** Seed of the sample mix. Default 1. */
  seed?: number;
  /** Source name. Default 'contended-host'. */
  source?: string;
}

/** 12 s at 100 Hz on 2 CPUs (2,400 samples of 10 ms), cpu-clock, DWARF call graphs. */
export function contendedHost(opts: ContendedHostOptions = {}): Profile {
  const storm = opts.storm ?? true;
  let seed = opts.seed ?? 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const b = new ProfileBuilder(opts.source ?? 'contended-host', 'perf-script');
  b.meta.callGraph = 'dwarf';
  b.meta.hasCgroups = true;
  b.meta.event = 'cpu-clock:ppp';
  b.meta.durationSeconds = 12;
  const stacks = new Map<string, number>();
  const stackOf = (spec: string) => {
    let s = stacks.get(spec);
    if (s === undefined) {
      s = -1;
      for (const f of spec.split(';')) s = b.stack(s, frameOf(b, f));
      stacks.set(spec, s);
    }
    return s;
  };
  const add = (t: number, cpu: number, cgroup: string, comm: string, pid: number, spec: string) =>
    b.addSample({
      stack: stackOf(spec),
      time: 1000 + t,
      weight: 10_000_000,
      pid,
      tid: pid,
      cpu,
      comm: b.strings.intern(comm),
      cgroup: b.strings.intern(cgroup),
    });
  let n = 0;
  for (let k = 0; k < 1200; k++) {
    const t = k * 0.01;
    // The storm comes in bursts: odd seconds are heavy, and the victim's kernel time follows.
    const burst = storm && Math.floor(t) % 2 === 1;
    for (let cpu = 0; cpu < 2; cpu++) {
      const r = random();
      const at = t + cpu * 0.001;
      if (storm && r < (burst ? 0.35 : 0.08))
        add(at, cpu, scope(LOGGER_ID), 'query-server', 410, r < 0.05 ? STACKS.invalidate : STACKS.fadvise);
      else if (r < 0.45) add(at, cpu, scope(LOGGER_ID), 'query-server', 410, STACKS.query);
      else if (r < (burst ? 0.6 : 0.5))
        add(at, cpu, scope(VICTIM_ID), 'victim', 520, r < 0.47 ? STACKS.victimPath : STACKS.victimRead);
      else if (r < 0.7) add(at, cpu, scope(VICTIM_ID), 'victim', 520, STACKS.victimUser);
      else if (r < 0.73) add(at, cpu, scope(VICTIM_ID), 'victim', 520, STACKS.fault);
      else if (r < 0.9) add(at, cpu, scope(BATCH_ID), 'batch', 630, STACKS.batch);
      else if (r < 0.94) add(at, cpu, '/', 'kworker/0:1', 17, STACKS.kworker);
      else add(at, cpu, '/', 'swapper/0', 0, STACKS.idle);
      n++;
    }
  }
  b.meta.events = [{ name: 'cpu-clock:ppp', samples: n }];
  return b.finish();
}

function frameOf(b: ProfileBuilder, spec: string): number {
  if (spec.endsWith('_[k]'))
    return b.frame(spec.slice(0, -4), '[kernel.kallsyms]', FrameKind.kernel, false, null);
  const at = spec.indexOf('@');
  return b.frame(spec.slice(0, at), spec.slice(at + 1), FrameKind.user, false, null);
}

/** Engine names for the synthetic containers, as a run's counters.json would give them. */
export function contendedNames<T extends { id: string; name: string }>(identity: T): T {
  const names: Record<string, string> = { [LOGGER_ID]: 'query-1', [VICTIM_ID]: 'cache-2' };
  const name = names[identity.id];
  return name === undefined ? identity : { ...identity, name };
}
