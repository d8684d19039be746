import { describe, expect, it } from 'vitest';
import { attributeStack, UNNAMED_SYSCALL } from '../src/analysis/attribute.ts';
import { functionNameOf } from '../src/analysis/call-site.ts';
import type { CallGraphMode } from '../src/model/profile.ts';
import { profileFromText } from './support/profile-text.ts';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const fadviseKernel =
  'entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];__x64_sys_fadvise64_[k];ksys_fadvise64_64_[k];generic_fadvise_[k];lru_add_drain_all_[k]';

function attributeLine(line: string, mode: CallGraphMode = 'dwarf') {
  const p = profileFromText(line, mode);
  return attributeStack(p, p.samples.stack[0], mode);
}

describe('kernel entry', () => {
  it('names the syscall from the __x64_sys_ entry and keeps the path below it', () => {
    const a = attributeLine(
      `q _start;main;HandleQuery;LogFileObject::Write(char const*, unsigned long);posix_fadvise@${LIBC};${fadviseKernel} 1`,
    );
    expect(a.category).toBe('syscall');
    expect(a.syscall).toBe('fadvise64');
    expect(a.kernelPath).toEqual([
      '__x64_sys_fadvise64',
      'ksys_fadvise64_64',
      'generic_fadvise',
      'lru_add_drain_all',
    ]);
  });

  it.each([
    ['__se_sys_openat', 'openat'],
    ['__do_sys_newfstatat', 'newfstatat'],
    ['__arm64_sys_read', 'read'],
    ['__ia32_compat_sys_fadvise64_64', 'fadvise64_64'],
    ['SyS_write', 'write'],
  ])('recognises %s as syscall %s', (frame, name) => {
    expect(attributeLine(`p main;x_[k];${frame}_[k];inner_[k] 1`).syscall).toBe(name);
  });

  it('takes the outermost entry when several match', () => {
    const a = attributeLine(
      'p main;do_syscall_64_[k];__x64_sys_sendmsg_[k];__sys_sendmsg_[k];__do_sys_other_[k] 1',
    );
    expect(a.syscall).toBe('sendmsg');
  });

  it('reads bare sys_read only right below the dispatcher (old kernels), not fbdev sys_fillrect', () => {
    expect(attributeLine('dd main;system_call_fastpath_[k];sys_read_[k];vfs_read_[k] 1').syscall).toBe(
      'read',
    );
    expect(attributeLine('x main;asm_exc_page_fault_[k];foo_[k];sys_fillrect_[k] 1').category).toBe(
      'page_fault',
    );
  });

  it('names syscall entry/exit time without an entry frame', () => {
    const a = attributeLine(
      'p main;entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];syscall_exit_to_user_mode_[k] 1',
    );
    expect(a.syscall).toBe(UNNAMED_SYSCALL);
  });

  it('gives a hardware interrupt inside a syscall to the interrupt', () => {
    const a = attributeLine(
      'p main;do_syscall_64_[k];__x64_sys_read_[k];vfs_read_[k];asm_common_interrupt_[k];handle_irq_[k] 1',
    );
    expect(a.category).toBe('interrupt');
    expect(a.kernelPath).toEqual(['asm_common_interrupt', 'handle_irq']);
  });

  it('keeps a softirq run from local_bh_enable inside a syscall with the syscall', () => {
    const a = attributeLine(
      'p main;do_syscall_64_[k];__x64_sys_sendto_[k];__local_bh_enable_ip_[k];do_softirq_[k];net_rx_action_[k] 1',
    );
    expect(a.syscall).toBe('sendto');
  });

  it('classifies page faults, idle, kernel threads and the rest', () => {
    expect(
      attributeLine('p main;asm_exc_page_fault_[k];exc_page_fault_[k];handle_mm_fault_[k] 1').category,
    ).toBe('page_fault');
    expect(
      attributeLine('swapper:0 cpu_startup_entry_[k];do_idle_[k];default_idle_[k];pv_native_safe_halt_[k] 1')
        .category,
    ).toBe('idle');
    expect(
      attributeLine(
        'swapper:0 cpu_startup_entry_[k];do_idle_[k];asm_sysvec_apic_timer_interrupt_[k];hrtimer_[k] 1',
      ).category,
    ).toBe('interrupt');
    expect(
      attributeLine('kworker/0:1:12 ret_from_fork_[k];kthread_[k];worker_thread_[k];process_one_work_[k] 1')
        .category,
    ).toBe('kernel_thread');
    expect(
      attributeLine(
        'ksoftirqd/0:14 ret_from_fork_[k];kthread_[k];smpboot_thread_fn_[k];run_ksoftirqd_[k];net_rx_action_[k] 1',
      ).category,
    ).toBe('interrupt');
    expect(attributeLine('p main;schedule_[k] 1').category).toBe('kernel_other');
    expect(attributeLine('p main;compute 1').category).toBe('user');
  });
});

describe('call site', () => {
  const dwarf = `q _start@/srv/q;__libc_start_call_main@${LIBC};main@/srv/q;HandleQuery@/srv/q;LogFileObject::Write(char const*, unsigned long)@/srv/q;posix_fadvise@${LIBC};__GI___posix_fadvise64_l64@${LIBC}_[i];${fadviseKernel} 1`;

  it('names the application function above the libc wrapper on DWARF stacks', () => {
    const a = attributeLine(dwarf, 'dwarf');
    expect(a.callSite).toEqual({
      status: 'found',
      function: 'LogFileObject::Write',
      module: '/srv/q',
      wrapper: 'posix_fadvise',
    });
  });

  it('says the call site was lost on frame-pointer stacks through libc instead of naming the wrong function', () => {
    // What perf shows with -g: the wrapper's caller is skipped, its caller's caller appears.
    const fp = `q _start@/srv/q;__libc_start_call_main@${LIBC};main@/srv/q;posix_fadvise@${LIBC};${fadviseKernel} 1`;
    expect(attributeLine(fp, 'fp').callSite).toEqual({
      status: 'lost',
      wrapper: 'posix_fadvise',
      reason: 'frame-pointer',
    });
    const fpEntry = `q _start@/srv/q;__libc_start_call_main@${LIBC};posix_fadvise@${LIBC};${fadviseKernel} 1`;
    expect(attributeLine(fpEntry, 'fp').callSite?.status).toBe('lost');
    // Same stack shape with DWARF ending at the process entry: lost, not "_start".
    expect(attributeLine(fpEntry, 'dwarf').callSite).toEqual({
      status: 'lost',
      wrapper: 'posix_fadvise',
      reason: 'process-entry',
    });
  });

  it('finds call sites of static binaries and Go programs without libc', () => {
    const go =
      'g runtime.goexit@/srv/g;main.main@/srv/g;os.(*File).Write@/srv/g;syscall.Syscall@/srv/g;do_syscall_64_[k];__x64_sys_write_[k] 1';
    expect(attributeLine(go, 'fp').callSite).toEqual({
      status: 'found',
      function: 'os.(*File).Write',
      module: '/srv/g',
      wrapper: 'syscall.Syscall',
    });
  });

  it('reports a stack that ends inside the wrapper and unknown callers', () => {
    expect(attributeLine(`q posix_fadvise@${LIBC};${fadviseKernel} 1`).callSite).toEqual({
      status: 'none',
      wrapper: 'posix_fadvise',
    });
    expect(attributeLine(`q [unknown]@[unknown];posix_fadvise@${LIBC};${fadviseKernel} 1`).callSite).toEqual({
      status: 'unknown',
      module: '[unknown]',
      wrapper: 'posix_fadvise',
    });
  });

  it('strips argument lists but keeps templates and anonymous namespaces', () => {
    expect(functionNameOf('LogFileObject::Write(char const*, unsigned long)')).toBe('LogFileObject::Write');
    expect(functionNameOf('(anonymous namespace)::flush(int)')).toBe('(anonymous namespace)::flush');
    expect(functionNameOf('std::function<void (int)>::operator()(int) const')).toBe(
      'std::function<void (int)>::operator',
    );
    expect(functionNameOf('main')).toBe('main');
  });
});
