/**
 * The feature sections of a finalized perf.data: facts about the recording (host, kernel, perf
 * version, command line, event names). Layouts from
 * tools/perf/Documentation/perf.data-file-format.txt at v6.1 (tag 830b3c68c1fb):
 *
 *   After the data section, one `struct perf_file_section` per bit set in adds_features, in bit order.
 *   struct perf_header_string { uint32_t len; char string[len]; }     // zero terminated, padded
 *   struct perf_header_string_list { uint32_t nr; struct perf_header_string strings[nr]; }
 *   HEADER_TRACING_DATA 1: tracepoint formats (tracepoint-format.ts reads it, only when needed)
 *   HEADER_HOSTNAME 3, OSRELEASE 4, VERSION 5, ARCH 6, CPUDESC 8: perf_header_string
 *   HEADER_NRCPUS 7: struct nr_cpus { uint32_t nr_cpus_available; uint32_t nr_cpus_online; }
 *   HEADER_CMDLINE 11: perf_header_string_list
 *   HEADER_EVENT_DESC 12: { uint32_t nr; uint32_t attr_size;
 *       { struct perf_event_attr attr; uint32_t nr_ids; struct perf_header_string event_string;
 *         uint64_t ids[nr_ids]; } events[nr]; }
 *   HEADER_SAMPLE_TIME 21: { uint64_t first_sample_time; uint64_t last_sample_time; }
 *   HEADER_CLOCKID 23: { uint64_t clockid_res_ns; }
 *   HEADER_COMPRESSED 27: present when records were compressed (perf record -z)
 *   HEADER_BUILD_ID 2: a run of `struct build_id_event { struct perf_event_header header; pid_t pid;
 *       u8 build_id[24]; char filename[]; }` (header.size each); with misc bit 15
 *       (PERF_RECORD_MISC_BUILD_ID_SIZE) build_id[20] holds the id's size, else it is 20 bytes;
 *       misc & 7 is the cpumode (1 kernel, 2 user)
 *
 * perf writes the features only when it exits normally; a killed perf leaves none.
 */
import type { FileHandle } from 'node:fs/promises';
import type { PerfFileHeader } from './file-header.ts';
import { readAt } from './file-header.ts';
import { u64 } from './sample-layout.ts';

export const Feature = {
  TRACING_DATA: 1,
  BUILD_ID: 2,
  HOSTNAME: 3,
  OSRELEASE: 4,
  VERSION: 5,
  ARCH: 6,
  NRCPUS: 7,
  CPUDESC: 8,
  CMDLINE: 11,
  EVENT_DESC: 12,
  SAMPLE_TIME: 21,
  CLOCKID: 23,
  COMPRESSED: 27,
} as const;

export interface RecordingFeatures {
  hostname?: string;
  osrelease?: string;
  perfVersion?: string;
  arch?: string;
  nrcpusOnline?: number;
  nrcpusAvailable?: number;
  cpudesc?: string;
  cmdline?: string;
  /** Event names in attr order, with the ids that identify each (EVENT_DESC). */
  events?: { name: string; ids: number[] }[];
  firstSampleNs?: number;
  lastSampleNs?: number;
  clockResolutionNs?: number;
  /** Build-ids of the files samples hit (BUILD_ID): `[kernel.kallsyms]`, paths, `[vdso]`. */
  buildIds?: BuildIdEntry[];
  /** Where HEADER_TRACING_DATA (tracepoint formats) lies; read by tracepoint-format.ts when needed. */
  tracingData?: { offset: number; size: number };
}

export interface BuildIdEntry {
  pid: number;
  /** Lower-case hex. */
  buildId: string;
  filename: string;
  kernel: boolean;
}

/** Feature sections above this size are not ours to read (EVENT_DESC of thousands of CPUs is well below). */
const MAX_FEATURE_BYTES = 64 << 20;

export function hasFeature(h: PerfFileHeader, feature: number): boolean {
  return (h.featureBits[feature >> 3] & (1 << (feature & 7))) !== 0;
}

/**
 * Reads the wanted features of a finalized file. `warnings` receives one line when the feature
 * table or a section lies outside the file (a copy cut after the data section).
 */
export async function readFeatures(
  fh: FileHandle,
  h: PerfFileHeader,
  fileSize: number,
  warnings: string[],
): Promise<RecordingFeatures> {
  const present: number[] = [];
  for (let f = 0; f < 256; f++) if (hasFeature(h, f)) present.push(f);
  const tableAt = h.data.offset + h.data.size;
  const table = await readAt(fh, tableAt, present.length * 16);
  if (table.length < present.length * 16) {
    warnings.push('perf.data feature sections are missing (file cut after the data section): no host facts');
    return {};
  }
  const tv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const out: RecordingFeatures = {};
  const wanted = new Set<number>(Object.values(Feature));
  for (let i = 0; i < present.length; i++) {
    const f = present[i];
    if (!wanted.has(f)) continue;
    const offset = u64(tv, i * 16);
    const size = u64(tv, i * 16 + 8);
    if (size > MAX_FEATURE_BYTES || offset + size > fileSize) {
      warnings.push(`perf.data feature section ${featureName(f)} lies outside the file; skipped`);
      continue;
    }
    if (f === Feature.TRACING_DATA) {
      out.tracingData = { offset, size };
      continue;
    }
    const bytes = await readAt(fh, offset, size);
    applyFeature(f, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), out);
  }
  return out;
}

function featureName(f: number): string {
  return Object.entries(Feature).find(([, v]) => v === f)?.[0] ?? String(f);
}

function applyFeature(f: number, v: DataView, out: RecordingFeatures): void {
  const str = (): string | undefined => headerString(v, 0)?.text;
  switch (f) {
    case Feature.HOSTNAME:
      out.hostname = str();
      break;
    case Feature.OSRELEASE:
      out.osrelease = str();
      break;
    case Feature.VERSION:
      out.perfVersion = str();
      break;
    case Feature.ARCH:
      out.arch = str();
      break;
    case Feature.CPUDESC:
      out.cpudesc = str();
      break;
    case Feature.NRCPUS:
      if (v.byteLength >= 8) {
        out.nrcpusAvailable = v.getUint32(0, true);
        out.nrcpusOnline = v.getUint32(4, true);
      }
      break;
    case Feature.CMDLINE:
      out.cmdline = stringList(v).join(' ');
      break;
    case Feature.EVENT_DESC:
      out.events = eventDescs(v);
      break;
    case Feature.SAMPLE_TIME:
      if (v.byteLength >= 16) {
        out.firstSampleNs = u64(v, 0);
        out.lastSampleNs = u64(v, 8);
      }
      break;
    case Feature.BUILD_ID:
      out.buildIds = buildIdEntries(v);
      break;
    case Feature.CLOCKID:
      if (v.byteLength >= 8) out.clockResolutionNs = u64(v, 0);
      break;
  }
}

/** A perf_header_string at `at`: its text (up to the first NUL) and the offset after it. */
function headerString(v: DataView, at: number): { text: string; next: number } | undefined {
  if (at + 4 > v.byteLength) return undefined;
  const len = v.getUint32(at, true);
  const start = at + 4;
  if (start + len > v.byteLength) return undefined;
  const bytes = new Uint8Array(v.buffer, v.byteOffset + start, len);
  const nul = bytes.indexOf(0);
  const text = Buffer.from(bytes.subarray(0, nul === -1 ? len : nul)).toString('utf8');
  return { text, next: start + len };
}

function stringList(v: DataView): string[] {
  if (v.byteLength < 4) return [];
  const nr = v.getUint32(0, true);
  const out: string[] = [];
  let at = 4;
  for (let i = 0; i < nr; i++) {
    const s = headerString(v, at);
    if (s === undefined) break;
    out.push(s.text);
    at = s.next;
  }
  return out;
}

function eventDescs(v: DataView): { name: string; ids: number[] }[] {
  if (v.byteLength < 8) return [];
  const nr = v.getUint32(0, true);
  const attrSize = v.getUint32(4, true);
  const out: { name: string; ids: number[] }[] = [];
  let at = 8;
  for (let i = 0; i < nr; i++) {
    at += attrSize;
    if (at + 4 > v.byteLength) break;
    const nrIds = v.getUint32(at, true);
    const s = headerString(v, at + 4);
    if (s === undefined) break;
    at = s.next;
    const ids: number[] = [];
    for (let k = 0; k < nrIds && at + 8 <= v.byteLength; k++, at += 8) ids.push(u64(v, at));
    out.push({ name: s.text, ids });
  }
  return out;
}

function buildIdEntries(v: DataView): BuildIdEntry[] {
  const out: BuildIdEntry[] = [];
  let at = 0;
  while (at + 8 <= v.byteLength) {
    const misc = v.getUint16(at + 4, true);
    const size = v.getUint16(at + 6, true);
    if (size < 8 + 4 + 24 || at + size > v.byteLength) break;
    const idLen = (misc & 0x8000) !== 0 ? Math.min(20, v.getUint8(at + 32)) : 20;
    const bytes = new Uint8Array(v.buffer, v.byteOffset + at, size);
    const name = bytes.subarray(36);
    const nul = name.indexOf(0);
    out.push({
      pid: v.getInt32(at + 8, true),
      buildId: Buffer.from(bytes.subarray(12, 12 + idLen)).toString('hex'),
      filename: Buffer.from(name.subarray(0, nul === -1 ? name.length : nul)).toString('utf8'),
      kernel: (misc & 7) === 1 || (misc & 7) === 4,
    });
    at += size;
  }
  return out;
}
