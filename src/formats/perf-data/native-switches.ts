/**
 * Context switches (sched:sched_switch) in the native decoder's profile: the rows RecordPass kept
 * (payload fields read by tracepoint-format.ts) become `profile.switches`, each exactly as the
 * perf script parser adds it (formats/perf-script/parser.ts endSwitch): the sample's task is the
 * one switching out, its call chain is where it was, its comm and cgroup are the sample's.
 */
import type { ProfileBuilder } from '../../model/builder.ts';
import type { RecordPass } from './native-records.ts';

/** Per sample index: its row among the context switches, or -1; null when there are none. */
export function switchRows(pass: RecordPass): Int32Array | null {
  if (pass.switchAt.length === 0) return null;
  const rows = new Int32Array(pass.samples).fill(-1);
  for (let r = 0; r < pass.switchAt.length; r++) rows[pass.switchAt.data[r]] = r;
  return rows;
}

/** A context switch as the perf script parser adds it: the sample's task switching out, where it was. */
export function addSwitch(
  b: ProfileBuilder,
  pass: RecordPass,
  i: number,
  row: number,
  stack: number,
  comm: number,
  cgroup: number,
): void {
  b.addSwitch({
    stack,
    timeNs: pass.time.data[i],
    cpu: pass.cpu.data[i],
    prevTid: pass.tid.data[i],
    prevPid: pass.pid.data[i],
    comm,
    cgroup,
    prevState: pass.switchState.data[row],
    nextTid: pass.switchNext.data[row],
  });
}
