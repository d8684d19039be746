/**
 * Native, streaming reader of perf.data files for what `perf script` 6.1 cannot print: each
 * sample's cgroup (PERF_SAMPLE_CGROUP, recorded with `perf record --all-cgroups`) and the cgroup
 * id -> path table (PERF_RECORD_CGROUP). It also counts samples per event and lost samples and
 * reads the recording facts of the feature sections. Stacks and symbols are left to perf script.
 *
 * Format references: tools/perf/Documentation/perf.data-file-format.txt and
 * include/uapi/linux/perf_event.h at v6.1 (tag 830b3c68c1fb); see file-header.ts, features.ts,
 * records.ts, sample-layout.ts for the layouts each part handles.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { InputError, UnreadableInputError } from '../errors.ts';
import { CgroupIndex } from './cgroup-index.ts';
import { Feature, hasFeature, type RecordingFeatures, readFeatures } from './features.ts';
import {
  callGraphOf,
  FILE_HEADER_SIZE,
  type PerfAttr,
  type PerfFileHeader,
  parseFileHeader,
  readAt,
  readAttrs,
} from './file-header.ts';
import { RecordType, type WalkResult, walkRecords } from './records.ts';
import { cgroupOffset, type SampleLayout, sampleLayoutOf, sampleTypeText, u64 } from './sample-layout.ts';

export { sniffPerfData } from './file-header.ts';

export interface PerfDataAttrSummary {
  /** Event name from the EVENT_DESC feature (`cpu-clock:ppp`), else derived from type/config. */
  name: string;
  /** perf_event_attr.type: 0 hardware, 1 software, 2 tracepoint, ... */
  type: number;
  sampleType: number;
  /** `IP|TID|TIME|CALLCHAIN|...` */
  sampleTypeText: string;
  callGraph: 'fp' | 'dwarf' | 'lbr' | 'none';
  /** Samples carry PERF_SAMPLE_CGROUP (and TID, needed to join them to perf script's text). */
  hasCgroup: boolean;
  /** Sampling frequency in Hz (perf record -F), or null when a fixed period was used. */
  frequency: number | null;
  /** Fixed sample period (perf record -c), or null when a frequency was used. */
  period: number | null;
  /** attr.clockid when perf record -k was used, else null. */
  clockid: number | null;
  /** PERF_RECORD_SAMPLE records of this event. */
  samples: number;
  /** Side-band records carry the sample id fields (times), so they can be put in time order. */
  sampleIdAll: boolean;
}

export interface PerfDataSummary {
  file: string;
  fileSize: number;
  attrs: PerfDataAttrSummary[];
  /** All samples of all events. */
  samples: number;
  /** cgroup id -> path relative to the cgroup v2 root (`/`, `/system.slice/docker-<id>.scope`). */
  cgroups: Map<number, string>;
  /** Events the kernel dropped because perf's ring buffer was full (PERF_RECORD_LOST). */
  lost: number;
  /** Samples the kernel dropped (PERF_RECORD_LOST_SAMPLES). */
  lostSamples: number;
  /** Sample times (ns of the recording clock); NaN when samples carry no time. */
  firstTimeNs: number;
  lastTimeNs: number;
  features: RecordingFeatures;
  /** The data section is incomplete (perf killed, file cut); the counts cover what was readable. */
  truncated: boolean;
  warnings: string[];
  /** File offsets of the data section's first byte and of the end of its last complete record. */
  dataOffset: number;
  validDataEnd: number;
  /** Threads seen in more than one cgroup (answered by time). */
  multiCgroupThreads: number;
  cgroupIdOf(tid: number, timeNs: number): number | undefined;
  cgroupOf(tid: number, timeNs: number): string | undefined;
}

export interface ReadPerfDataOptions {
  /** Called with the fraction (0..1) of the data section read. */
  onProgress?: (fraction: number) => void;
}

/** Reads `file`; throws InputError when it is not a readable perf.data, never for truncation. */
export async function readPerfData(file: string, opts: ReadPerfDataOptions = {}): Promise<PerfDataSummary> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new UnreadableInputError(file, (e as NodeJS.ErrnoException).code ?? String(e));
  }
  try {
    return await readOpen(fh, file, opts);
  } finally {
    await fh.close();
  }
}

async function readOpen(fh: FileHandle, file: string, opts: ReadPerfDataOptions): Promise<PerfDataSummary> {
  const stat = await fh.stat();
  if (!stat.isFile()) throw new UnreadableInputError(file, 'not a regular file');
  const fileSize = stat.size;
  const header = parseFileHeader(await readAt(fh, 0, FILE_HEADER_SIZE), file);
  if (hasFeature(header, Feature.COMPRESSED)) throw compressedError(file);
  const attrs = await readAttrs(fh, header, fileSize, file);
  const warnings: string[] = [];
  const span = dataSpan(header, fileSize, file, warnings);
  const features =
    span.finalized && !span.truncated ? await readFeatures(fh, header, fileSize, warnings) : {};
  const pass = new SamplePass(file, attrs);
  const walked = await walkRecords(fh, header.data.offset, span.end, pass.visit, (off) =>
    opts.onProgress?.((off - header.data.offset) / Math.max(1, span.end - header.data.offset)),
  );
  const truncated = span.truncated || walked.stop !== 'end';
  if (walked.stop !== 'end') warnings.push(stopWarning(walked, span.end));
  if (pass.index.multiCgroupThreads > 0) await pass.secondPass(fh, header.data.offset, walked.validEnd);
  pass.addWarnings(warnings);
  opts.onProgress?.(1);
  return summarize(file, fileSize, attrs, features, pass, { truncated, warnings, header, walked });
}

/** Where the records end, and whether perf finalized the header. */
function dataSpan(
  h: PerfFileHeader,
  fileSize: number,
  file: string,
  warnings: string[],
): { end: number; finalized: boolean; truncated: boolean } {
  const { offset, size } = h.data;
  if (offset < FILE_HEADER_SIZE || offset > fileSize) {
    throw new InputError(
      file,
      null,
      'a perf.data data section inside the file',
      `data offset ${offset} in a ${fileSize}-byte file`,
    );
  }
  if (size === 0) {
    warnings.push(
      'perf.data header not finalized (data size 0): perf was killed? reading records to the end of the file',
    );
    return { end: fileSize, finalized: false, truncated: true };
  }
  if (offset + size > fileSize) {
    warnings.push(
      `perf.data ends ${offset + size - fileSize} bytes before the end of its data section (file cut?); reading what is there`,
    );
    return { end: fileSize, finalized: true, truncated: true };
  }
  return { end: offset + size, finalized: true, truncated: false };
}

function stopWarning(w: WalkResult, end: number): string {
  const at = `stopped at byte ${w.validEnd} of ${end} after ${w.records} records`;
  switch (w.stop) {
    case 'cut':
      return `perf.data records end in the middle of a record (perf killed or file cut): ${at}`;
    case 'bad-size':
      return `perf.data has a record with an impossible size (corrupt or cut file): ${at}`;
    case 'zero-type':
      return `perf.data has zero bytes where a record should start (file cut or not fully written): ${at}`;
    default:
      return '';
  }
}

function compressedError(file: string): InputError {
  return new InputError(
    file,
    null,
    'a perf.data file recorded without -z (uncompressed records)',
    'zstd-compressed records (perf record -z), which are not supported: record again without -z',
  );
}

/** Per-record work of the first pass; `visit` is bound so the walker can call it directly. */
class SamplePass {
  readonly index = new CgroupIndex();
  readonly layouts: SampleLayout[];
  readonly samplesByAttr: number[];
  readonly cgroups = new Map<number, string>();
  lost = 0;
  lostSamples = 0;
  firstTimeNs = Number.POSITIVE_INFINITY;
  lastTimeNs = Number.NEGATIVE_INFINITY;
  unknownIdSamples = 0;
  corruptSamples = 0;
  private readonly idToAttr = new Map<number, number>();
  /** Offset of the sample id used to find the attr; -1 with a single attr. */
  private readonly idPos: number;

  constructor(
    private readonly file: string,
    attrs: PerfAttr[],
  ) {
    this.layouts = attrs.map(sampleLayoutOf);
    this.samplesByAttr = attrs.map(() => 0);
    attrs.forEach((a, i) => {
      for (const id of a.ids) this.idToAttr.set(id, i);
    });
    this.idPos = attrs.length === 1 ? -1 : commonIdPosition(this.layouts, file);
  }

  readonly visit = (type: number, view: DataView, pos: number, size: number): void => {
    switch (type) {
      case RecordType.SAMPLE:
        this.sample(view, pos, size);
        break;
      case RecordType.CGROUP:
        this.cgroupRecord(view, pos, size);
        break;
      case RecordType.LOST:
        if (size >= 24) this.lost += u64(view, pos + 16);
        break;
      case RecordType.LOST_SAMPLES:
        if (size >= 16) this.lostSamples += u64(view, pos + 8);
        break;
      case RecordType.COMPRESSED:
        throw compressedError(this.file);
    }
  };

  private attrOf(view: DataView, pos: number, size: number): number {
    if (this.idPos === -1) return 0;
    if (this.idPos + 8 > size) return -1;
    return this.idToAttr.get(u64(view, pos + this.idPos)) ?? -1;
  }

  private sample(view: DataView, pos: number, size: number): void {
    const a = this.attrOf(view, pos, size);
    if (a === -1) {
      this.unknownIdSamples++;
      return;
    }
    this.samplesByAttr[a]++;
    const l = this.layouts[a];
    if (l.time !== -1 && l.time + 8 <= size) {
      const t = u64(view, pos + l.time);
      if (t < this.firstTimeNs) this.firstTimeNs = t;
      if (t > this.lastTimeNs) this.lastTimeNs = t;
    }
    if (!l.hasCgroup || l.tid === -1) return;
    const at = cgroupOffset(view, pos, size, l);
    if (at === -1) {
      this.corruptSamples++;
      return;
    }
    // Signed: the kernel reports pid/tid -1 for a task already unhashed while exiting, and perf script prints -1.
    this.index.observe(view.getInt32(pos + l.tid + 4, true), u64(view, at));
  }

  /** `struct { header; u64 id; char path[]; struct sample_id sample_id; }`, path NUL-terminated. */
  private cgroupRecord(view: DataView, pos: number, size: number): void {
    if (size < 17) return;
    const bytes = new Uint8Array(view.buffer, view.byteOffset + pos + 16, size - 16);
    const nul = bytes.indexOf(0);
    this.cgroups.set(
      u64(view, pos + 8),
      Buffer.from(bytes.subarray(0, nul === -1 ? bytes.length : nul)).toString('utf8'),
    );
  }

  /** Collects (time, cgroup) for the threads seen in several cgroups. */
  async secondPass(fh: FileHandle, from: number, to: number): Promise<void> {
    const index = this.index;
    await walkRecords(fh, from, to, (type, view, pos, size) => {
      if (type !== RecordType.SAMPLE) return;
      const a = this.attrOf(view, pos, size);
      if (a === -1) return;
      const l = this.layouts[a];
      if (!l.hasCgroup || l.tid === -1 || l.time === -1) return;
      const tid = view.getInt32(pos + l.tid + 4, true);
      if (!index.isMulti(tid)) return;
      const at = cgroupOffset(view, pos, size, l);
      if (at !== -1) index.observePoint(tid, u64(view, pos + l.time), u64(view, at));
    });
    index.finishPoints();
  }

  addWarnings(warnings: string[]): void {
    if (this.unknownIdSamples > 0) {
      warnings.push(
        `${this.unknownIdSamples} perf.data samples carry an event id listed in no attr; not counted`,
      );
    }
    if (this.corruptSamples > 0) {
      warnings.push(
        `${this.corruptSamples} perf.data samples have lengths pointing outside the record; their cgroup is unknown`,
      );
    }
  }
}

/**
 * With several attrs, each sample names its attr by id. perf requires the id at the same place
 * in every attr's samples (evlist__valid_sample_type in tools/perf/util/evlist.c at v6.1).
 */
function commonIdPosition(layouts: SampleLayout[], file: string): number {
  const pos = layouts[0].id;
  if (pos === -1 || layouts.some((l) => l.id !== pos)) {
    throw new InputError(
      file,
      null,
      'events whose samples carry their id at one position (PERF_SAMPLE_ID or IDENTIFIER)',
      layouts.map((l) => sampleTypeText(l.attr.sampleType)).join(' / '),
    );
  }
  return pos;
}

interface PassEnd {
  truncated: boolean;
  warnings: string[];
  header: PerfFileHeader;
  walked: WalkResult;
}

function summarize(
  file: string,
  fileSize: number,
  attrs: PerfAttr[],
  features: RecordingFeatures,
  pass: SamplePass,
  end: PassEnd,
): PerfDataSummary {
  const { index, cgroups } = pass;
  const names = eventNames(attrs, features);
  const haveTimes = pass.firstTimeNs <= pass.lastTimeNs;
  return {
    file,
    fileSize,
    attrs: attrs.map((a, i) => ({
      name: names[i],
      type: a.type,
      sampleType: a.sampleType,
      sampleTypeText: sampleTypeText(a.sampleType),
      callGraph: callGraphOf(a),
      hasCgroup: pass.layouts[i].hasCgroup && pass.layouts[i].tid !== -1,
      frequency: a.freq ? a.samplePeriodOrFreq : null,
      period: a.freq ? null : a.samplePeriodOrFreq,
      clockid: a.clockid,
      samples: pass.samplesByAttr[i],
      sampleIdAll: a.sampleIdAll,
    })),
    samples: pass.samplesByAttr.reduce((s, n) => s + n, 0),
    cgroups,
    lost: pass.lost,
    lostSamples: pass.lostSamples,
    firstTimeNs: haveTimes ? pass.firstTimeNs : Number.NaN,
    lastTimeNs: haveTimes ? pass.lastTimeNs : Number.NaN,
    features,
    truncated: end.truncated,
    warnings: end.warnings,
    dataOffset: end.header.data.offset,
    validDataEnd: end.walked.validEnd,
    multiCgroupThreads: index.multiCgroupThreads,
    cgroupIdOf: (tid, timeNs) => index.idOf(tid, timeNs),
    cgroupOf: (tid, timeNs) => {
      const id = index.idOf(tid, timeNs);
      return id === undefined ? undefined : cgroups.get(id);
    },
  };
}

/** Names from EVENT_DESC (matched by id, else by position), else from the attr's type and config. */
function eventNames(attrs: PerfAttr[], f: RecordingFeatures): string[] {
  const descs = f.events ?? [];
  return attrs.map((a, i) => {
    const byId = descs.find((d) => d.ids.some((id) => a.ids.includes(id)));
    const desc = byId ?? (descs.length === attrs.length ? descs[i] : undefined);
    return desc?.name ?? fallbackEventName(a.type, a.config);
  });
}

const softwareEvents = [
  'cpu-clock',
  'task-clock',
  'page-faults',
  'context-switches',
  'cpu-migrations',
  'minor-faults',
  'major-faults',
  'alignment-faults',
  'emulation-faults',
  'dummy',
  'bpf-output',
  'cgroup-switches',
];
const hardwareEvents = [
  'cycles',
  'instructions',
  'cache-references',
  'cache-misses',
  'branches',
  'branch-misses',
  'bus-cycles',
  'stalled-cycles-frontend',
  'stalled-cycles-backend',
  'ref-cycles',
];

/** perf's names for PERF_TYPE_HARDWARE (0) and PERF_TYPE_SOFTWARE (1) events; others by number. */
function fallbackEventName(type: number, config: number): string {
  const table = type === 0 ? hardwareEvents : type === 1 ? softwareEvents : undefined;
  return table?.[config] ?? `type${type}/config${config}`;
}
