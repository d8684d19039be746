/**
 * Questions the data cannot answer, kept apart from "no problem found": no cgroups in the input,
 * no call graphs, hidden kernel symbols, call sites lost to frame-pointer unwinding.
 */
import { FrameKind, type Profile } from '../model/profile.ts';
import type { AnalysisInput } from './analysis-input.ts';
import type { OffCpuSummary } from './off-cpu.ts';
import type { SyscallSummary } from './syscalls.ts';

export type LimitationCode =
  | 'no-samples'
  | 'no-cgroups'
  | 'no-call-graphs'
  | 'no-kernel-symbols'
  | 'call-sites-lost'
  | 'call-graph-unknown'
  | 'switches-incomplete'
  | 'truncated';

export interface Limitation {
  code: LimitationCode;
  message: string;
}

/**
 * Above this share of switch-outs without a switch-in before the next, off-CPU time is not
 * measured whole. A complete stream has none but for events perf lost; switches sampled with -F
 * (the corpus's mixed-events recording) had 43%; this VM's kernel (6.18, Firecracker) traced no
 * switch from the idle task on one of its two CPUs, and an idle 2 s recording had 71%.
 */
const MAX_SHARE_UNMATCHED_SWITCHES = 0.02;

function switchesIncomplete(o: OffCpuSummary | null): Limitation | null {
  if (o === null || o.switchOuts === 0) return null;
  const share = o.unmatchedSwitchOuts / o.switchOuts;
  if (share <= MAX_SHARE_UNMATCHED_SWITCHES) return null;
  return {
    code: 'switches-incomplete',
    message: `${pct(share)} of context switch-outs (${o.unmatchedSwitchOuts.toLocaleString('en-US')} of ${o.switchOuts.toLocaleString('en-US')}) are followed by the same task's next switch-out with no switch-in between: the input misses switches (sampled with -F or -c, lost by perf, or not traced by this kernel), so off-CPU times leave those waits out or stretch them over time on CPU; if the switches were recorded with -F or -c, record sched:sched_switch with its default period of 1, as crosstalk record does`,
  };
}

/** Below this share of weight with more than one frame, the input has no call graphs (perf record without -g). */
const MIN_SHARE_WITH_CALLCHAIN = 0.1;
/** Above this share of kernel weight on `[unknown]` leaves, kernel symbols were hidden (kptr_restrict). */
const MAX_SHARE_UNKNOWN_KERNEL = 0.5;

export function limitationsOf(
  p: Profile,
  input: AnalysisInput,
  syscalls: SyscallSummary[],
  offCpu: OffCpuSummary | null = null,
): Limitation[] {
  const out: Limitation[] = [];
  const switches = switchesIncomplete(offCpu);
  if (input.samples === 0) {
    out.push({ code: 'no-samples', message: 'the input holds no samples of the chosen event' });
    if (switches) out.push(switches);
    return out;
  }
  if (!input.hasCgroups) {
    out.push({
      code: 'no-cgroups',
      message:
        'the input carries no cgroup per sample, so containers cannot be told apart; analyse the perf.data of `crosstalk record` (perf record -a -g --all-cgroups) instead',
    });
  }
  const { withChain, kernel, unknownKernel, total } = stackStats(p);
  if (p.meta.callGraph === 'none' || withChain / total < MIN_SHARE_WITH_CALLCHAIN) {
    out.push({
      code: 'no-call-graphs',
      message:
        'samples carry no call chains, so syscalls and call sites cannot be named; record with -g or --call-graph dwarf',
    });
  }
  if (kernel > 0 && unknownKernel / kernel > MAX_SHARE_UNKNOWN_KERNEL) {
    out.push({
      code: 'no-kernel-symbols',
      message: `${pct(unknownKernel / kernel)} of kernel time has no kernel symbol (kernel.kptr_restrict?), so kernel paths cannot be named; record as root with sysctl kernel.kptr_restrict=0`,
    });
  }
  let lost = 0;
  let sys = 0;
  for (const s of syscalls) {
    sys += s.share;
    for (const c of s.callSites) if (c.status === 'lost') lost += c.share;
  }
  if (lost > 0) {
    out.push({
      code: 'call-sites-lost',
      message: `for ${pct(lost / sys)} of syscall time the call site was lost by frame-pointer unwinding (libc is built without frame pointers); record with --call-graph dwarf`,
    });
  }
  if (p.meta.callGraph === 'unknown' && usesLibcWrappers(syscalls)) {
    out.push({
      code: 'call-graph-unknown',
      message:
        "the input does not say how call chains were unwound; if it was recorded with frame pointers, a call site shown above a libc wrapper may be its caller's caller (pass --call-graph fp|dwarf)",
    });
  }
  if (switches) out.push(switches);
  if (input.truncated) {
    out.push({
      code: 'truncated',
      message: 'the input was cut short; the result covers the samples before the cut',
    });
  }
  return out;
}

function usesLibcWrappers(syscalls: SyscallSummary[]): boolean {
  return syscalls.some((s) => s.callSites.some((c) => c.status === 'found' && c.wrapper !== null));
}

function stackStats(p: Profile) {
  let withChain = 0;
  let kernel = 0;
  let unknownKernel = 0;
  let total = 0;
  const { samples, stacks, frames } = p;
  for (let i = 0; i < samples.length; i++) {
    const w = samples.weight[i];
    total += w;
    const s = samples.stack[i];
    if (s === -1) continue;
    if (stacks.depth[s] > 0) withChain += w;
    const f = stacks.frame[s];
    if (frames.kind[f] === FrameKind.kernel) {
      kernel += w;
      if (p.strings[frames.name[f]] === '[unknown]') unknownKernel += w;
    }
  }
  return { withChain, kernel, unknownKernel, total: total || 1 };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x < 0.01 ? 2 : 0)}%`;
}
