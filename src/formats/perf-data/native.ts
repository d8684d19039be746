/**
 * Native decoding of frame-pointer perf.data recordings: the stacks `perf script` would print,
 * without running perf. Three phases:
 *   1. one walk over the records keeps the samples (tid, time, cpu, period, cgroup, call chain)
 *      and the side-band records (COMM, FORK, EXIT, MMAP, MMAP2, KSYMBOL) with their times;
 *   2. both are replayed in time order (perf's ordered events), so each call-chain address is
 *      looked up in the address space its process had at that moment; an address becomes a
 *      location (file + offset), interned;
 *   3. the files behind the locations are read once (symbol-sources.ts), every location gets a
 *      symbol, C++/Rust names are demangled in one batch (demangle.ts), and the samples are
 *      built into a Profile with the frame names and modules perf script prints.
 * Record layouts: include/uapi/linux/perf_event.h at v6.1 (tag 830b3c68c1fb), comments of
 * `enum perf_event_type`; sample_id trailer order: TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { Profile } from '../../model/profile.ts';
import { InputError } from '../errors.ts';
import { eventBase } from '../perf-script/sniff.ts';
import { FILE_HEADER_SIZE, parseFileHeader, readAt, readAttrs } from './file-header.ts';
import { Machine } from './native-machine.ts';
import { type Chosen, type NativeDecodeOptions, RecordPass } from './native-records.ts';
import type { PerfDataSummary } from './reader.ts';
import { walkRecords } from './records.ts';
import { SampleType } from './sample-layout.ts';
import { readTracingFormats, type SwitchFormat, switchFormatOf } from './tracepoint-format.ts';

/** The context-switch tracepoint `crosstalk record --off-cpu` adds beside the profile. */
export const SWITCH_EVENT = 'sched:sched_switch';

/**
 * Why a recording must go through perf script instead, or null when the native path covers it.
 * `switches`: the context-switch payload format (switchFormatFor), a reason it cannot be read, or
 * null when there are no context switches to decode.
 */
export function nativeUnsupported(s: PerfDataSummary, switches: SwitchFormat | string | null): string | null {
  const attrs = s.attrs;
  if (!attrs.some((a) => a.samples > 0)) return 'no samples';
  for (const a of attrs) {
    if (a.samples === 0) continue;
    if (a.callGraph === 'dwarf')
      return 'DWARF call graphs (--call-graph dwarf) need unwinding, which perf does';
    if (a.callGraph === 'lbr') return 'LBR call stacks are decoded by perf';
  }
  if (typeof switches === 'string') return `context-switch payloads are decoded by perf: ${switches}`;
  if (attrs.some((a) => (a.sampleType & SampleType.TIME) === 0 || !a.sampleIdAll))
    return 'records without times (sample_id_all) cannot be put in order';
  const arch = s.features.arch;
  if (arch !== undefined && arch !== 'x86_64') return `kernel addresses of ${arch} are not decoded natively`;
  return null;
}

/**
 * The sched_switch payload format when the recording has context switches beside another sampled
 * event (unless `event` asks for the switches themselves): read from the file's tracing data, or
 * why it cannot be; null when there is nothing to decode.
 */
export async function switchFormatFor(
  file: string,
  s: PerfDataSummary,
  event: string | undefined,
): Promise<SwitchFormat | string | null> {
  const sampled = s.attrs.filter((a) => a.samples > 0);
  const sw = sampled.filter((a) => a.name === SWITCH_EVENT);
  if (sw.length === 0 || event === SWITCH_EVENT) return null;
  if (sw.length === sampled.length) return 'a recording of context switches alone';
  const section = s.features.tracingData;
  if (section === undefined) return 'the file has no tracing data (tracepoint formats)';
  const fh = await open(file, 'r');
  let formats: Awaited<ReturnType<typeof readTracingFormats>>;
  let ids: number[];
  try {
    const st = await fh.stat();
    const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), file);
    const attrs = await readAttrs(fh, header, st.size, file);
    ids = attrs.flatMap((a, i) => (s.attrs[i]?.name === SWITCH_EVENT ? [a.config] : []));
    formats = await readTracingFormats(fh, section);
  } finally {
    await fh.close();
  }
  if (typeof formats === 'string') return formats;
  const f = switchFormatOf(formats);
  if (typeof f === 'string') return f;
  if (ids.some((id) => id !== f.id)) return 'the sched_switch event id differs from its format';
  return f;
}

export interface NativeStats {
  samples: number;
  unresolvedFrames: number;
  kernelSymbols: string;
  dsosMissing: { name: string; why: string }[];
  demangler: string;
}

export async function decodeNative(
  file: string,
  summary: PerfDataSummary,
  opts: NativeDecodeOptions = {},
): Promise<{ profile: Profile; stats: NativeStats }> {
  const fh = await open(file, 'r');
  try {
    return await decodeOpen(fh, file, summary, opts);
  } finally {
    await fh.close();
  }
}

async function decodeOpen(
  fh: FileHandle,
  file: string,
  summary: PerfDataSummary,
  opts: NativeDecodeOptions,
): Promise<{ profile: Profile; stats: NativeStats }> {
  const st = await fh.stat();
  const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), file);
  const attrs = await readAttrs(fh, header, st.size, file);
  const chosen = chooseEvent(file, summary, opts.event);
  if (opts.switchFormat && !chosen.attrIndexes.has(summary.attrs.findIndex((a) => a.name === SWITCH_EVENT))) {
    const idx = summary.attrs.flatMap((a, i) => (a.name === SWITCH_EVENT && a.samples > 0 ? [i] : []));
    chosen.switches = { attrIndexes: new Set(idx), format: opts.switchFormat };
  }
  const keep = new Set([...chosen.attrIndexes, ...(chosen.switches?.attrIndexes ?? [])]);
  const expected = summary.attrs.reduce((n, a, i) => (keep.has(i) ? n + a.samples : n), 0);
  const pass = new RecordPass(attrs, keep, chosen.switches, {
    samples: expected,
    dataBytes: summary.validDataEnd - summary.dataOffset,
  });
  const span = summary.validDataEnd - summary.dataOffset;
  await walkRecords(fh, summary.dataOffset, summary.validDataEnd, pass.visit, (off) =>
    opts.onProgress?.((0.5 * (off - summary.dataOffset)) / Math.max(1, span)),
  );
  const machine = new Machine(summary, opts.maxStack ?? 127);
  machine.replay(pass);
  opts.onProgress?.(0.6);
  const kernel = await machine.loadSymbols(opts.cacheRoots ?? []);
  opts.onProgress?.(0.8);
  const built = await machine.build(file, pass, chosen, opts, summary);
  opts.onProgress?.(1);
  return {
    profile: built,
    stats: {
      samples: pass.samples - pass.switchAt.length,
      unresolvedFrames: machine.unresolved,
      kernelSymbols: kernel,
      dsosMissing: machine.missing,
      demangler: machine.demangler,
    },
  };
}

/** The profiled event: the user's, else the first sampled one that is not a tracepoint. */
function chooseEvent(file: string, s: PerfDataSummary, event: string | undefined): Chosen {
  const sampled = s.attrs.map((a, i) => ({ a, i })).filter(({ a }) => a.samples > 0);
  let name: string;
  if (event !== undefined) {
    const hit =
      sampled.find(({ a }) => a.name === event) ??
      sampled.find(({ a }) => eventBase(a.name) === eventBase(event));
    if (hit === undefined) {
      const have = sampled.map(({ a }) => `${a.name} (${a.samples})`).join(', ');
      throw new InputError(file, null, `samples of event "${event}"`, `only ${have}`);
    }
    name = hit.a.name;
  } else name = (sampled.find(({ a }) => a.type !== 2) ?? sampled[0]).a.name;
  const attrIndexes = new Set(
    sampled.filter(({ a }) => eventBase(a.name) === eventBase(name)).map(({ i }) => i),
  );
  const bases = new Set(sampled.filter(({ a }) => a.name !== SWITCH_EVENT).map(({ a }) => eventBase(a.name)));
  return { name, attrIndexes, by: event !== undefined ? 'option' : bases.size > 1 ? 'first' : 'only' };
}
