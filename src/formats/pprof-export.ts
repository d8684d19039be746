/**
 * pprof export: a gzipped profile.proto (github.com/google/pprof/proto/profile.proto) that
 * `go tool pprof`, Grafana Pyroscope and Parca read.
 *
 * - Sample types: [samples/count, cpu/nanoseconds] when weights are cpu-clock/task-clock periods
 *   (the shape of a Go CPU profile, which Pyroscope names process_cpu), else
 *   [samples/count, events/count]. Samples with equal stack and labels are summed.
 * - Kernel frames: their function name carries the `_[k]` suffix (JIT frames `_[j]`), the
 *   convention of FlameGraph's and inferno's `--all`, so a flame graph in any viewer tells them
 *   apart; `system_name` keeps the bare name. Each frame's module (`[kernel.kallsyms]`, a `.ko`, a
 *   shared object) is a Mapping's filename, which is what `go tool pprof` filters and groups by.
 * - Inlined frames (perf's `(inlined)`) become extra Lines of their enclosing frame's Location.
 *   One perf printed without its enclosing frame (module `inlined`) keeps a Location of its own
 *   in a Mapping named `inlined`, as perf prints it.
 * - A sample without frames gets the single frame `[no stack]` (no mapping): pprof readers skip
 *   samples without locations in some views (`go tool pprof -tags`), and their time is real.
 * - String labels: comm, pid, cgroup, container, container_name, pod (when in a pod), category
 *   (user, syscall, page_fault, ...), syscall (syscall time only), host (multi-host profiles).
 *   Numeric label: tid. pid is a string label only (readers drop a numeric 0, the idle task's
 *   pid, and two labels of one key would count every sample twice in `go tool pprof -tags`).
 */
import { gzipSync } from 'node:zlib';
import {
  Label,
  Line,
  Location,
  Mapping,
  Function as PprofFunction,
  Profile as PprofProfile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format';
import { FrameKind, type Profile, UNKNOWN_PID } from '../model/profile.ts';
import { weightUnitOf } from '../model/units.ts';

/** What an exporter needs from analysis, per sample (src/analysis/sample-labels.ts provides it). */
export interface SampleLabeler {
  identity(i: number): {
    id: string;
    name: string;
    pod?: { uid: string; name?: string; namespace?: string };
  };
  categoryOf(i: number): string;
  syscall(i: number): string | null;
}

export interface PprofExportOptions {
  /** Container, category and syscall labels. Default: none of these labels. */
  labels?: SampleLabeler;
  /** Profile start (ns since the epoch); perf times are since boot. Default 0 (unknown). */
  timeNanos?: number;
}

/** Comment lines that let the importer restore what pprof has no field for. */
export const COMMENT_PREFIX = 'crosstalk:';

/** cpu-clock and task-clock periods are nanoseconds; other events count occurrences. */
export function isNanosecondEvent(event: string): boolean {
  return weightUnitOf(event) === 'ns';
}

export const KERNEL_SUFFIX = '_[k]';
/** The frame of samples that carried no call chain. */
export const NO_STACK_FRAME = '[no stack]';
export const JIT_SUFFIX = '_[j]';

/** The gzipped pprof encoding of `p`. */
export function pprofOf(p: Profile, opts: PprofExportOptions = {}): Uint8Array {
  return gzipSync(new PprofWriter(p, opts).write().encode());
}

class PprofWriter {
  private readonly strings = new StringTable();
  private readonly mappings = new Map<string, Mapping>();
  private readonly functions = new Map<string, PprofFunction>();
  private readonly locations = new Map<string, Location>();
  /** Stack node -> location ids, leaf first. */
  private readonly stackLocations = new Map<number, number[]>();

  constructor(
    private readonly p: Profile,
    private readonly opts: PprofExportOptions,
  ) {}

  write(): PprofProfile {
    const { p } = this;
    const s = (x: string) => this.strings.dedup(x);
    const ns = isNanosecondEvent(p.meta.event);
    const valueType = ns
      ? { type: s('cpu'), unit: s('nanoseconds') }
      : { type: s('events'), unit: s('count') };
    const sampleType = [new ValueType({ type: s('samples'), unit: s('count') }), new ValueType(valueType)];
    const samples = this.samples();
    const comments = [
      `${COMMENT_PREFIX} event=${p.meta.event}`,
      `${COMMENT_PREFIX} call-graph=${p.meta.callGraph}`,
      `${COMMENT_PREFIX} source=${p.meta.source}`,
    ];
    const duration = p.meta.durationSeconds;
    return new PprofProfile({
      sampleType,
      sample: samples,
      mapping: [...this.mappings.values()],
      location: [...this.locations.values()],
      function: [...this.functions.values()],
      stringTable: this.strings,
      timeNanos: Math.round(this.opts.timeNanos ?? 0),
      durationNanos: duration === null ? 0 : Math.round(duration * 1e9),
      periodType: new ValueType(valueType),
      period: typicalPeriod(p),
      comment: comments.map(s),
      defaultSampleType: valueType.type,
    });
  }

  /** One pprof sample per distinct (stack, comm, pid, tid, cgroup, host): labels follow from these. */
  private samples(): Sample[] {
    const { samples } = this.p;
    const groups = new Map<string, { first: number; count: number; weight: number }>();
    for (let i = 0; i < samples.length; i++) {
      const key = `${samples.stack[i]},${samples.comm[i]},${samples.pid[i]},${samples.tid[i]},${samples.cgroup[i]},${samples.host[i]}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { first: i, count: 1, weight: samples.weight[i] });
      else {
        g.count++;
        g.weight += samples.weight[i];
      }
    }
    const out: Sample[] = [];
    for (const g of groups.values()) {
      out.push(
        new Sample({
          locationId: this.locationIdsOf(samples.stack[g.first]),
          value: [g.count, Math.round(g.weight)],
          label: this.labelsOf(g.first),
        }),
      );
    }
    return out;
  }

  private labelsOf(i: number): Label[] {
    const { samples, strings } = this.p;
    const s = (x: string) => this.strings.dedup(x);
    const out: Label[] = [];
    const str = (key: string, value: string) => out.push(new Label({ key: s(key), str: s(value) }));
    const num = (key: string, value: number) => out.push(new Label({ key: s(key), num: value }));
    const host = strings[samples.host[i]];
    if (host !== '') str('host', host);
    str('comm', strings[samples.comm[i]]);
    const pid = samples.pid[i];
    if (pid !== UNKNOWN_PID) {
      // A string only: a numeric label of the same key would make `go tool pprof -tags` count
      // every sample twice under pid, and readers drop a numeric 0 (the idle task).
      str('pid', String(pid));
    }
    num('tid', samples.tid[i]);
    const cgroup = strings[samples.cgroup[i]];
    if (cgroup !== '') str('cgroup', cgroup);
    const labels = this.opts.labels;
    if (labels === undefined) return out;
    const c = labels.identity(i);
    str('container', c.id);
    str('container_name', c.name);
    if (c.pod) str('pod', c.pod.name ?? c.pod.uid);
    if (c.pod?.namespace) str('namespace', c.pod.namespace);
    str('category', labels.categoryOf(i));
    const syscall = labels.syscall(i);
    if (syscall !== null) str('syscall', syscall);
    return out;
  }

  /**
   * Location ids of a stack node, leaf first. A Location is a frame together with the inlined
   * frames perf printed right below it (leaf side), innermost first, as pprof's Line order wants.
   */
  private locationIdsOf(stack: number): number[] {
    if (stack === -1) return [this.noStackLocation()];
    const known = this.stackLocations.get(stack);
    if (known) return known;
    const { stacks, frames } = this.p;
    const ids: number[] = [];
    let inlined: number[] = [];
    for (let n = stack; n !== -1; n = stacks.prefix[n]) {
      const f = stacks.frame[n];
      if (frames.inlined[f] === 1) {
        inlined.push(f);
        continue;
      }
      if (inlined.every((i) => frames.module[i] === frames.module[f]))
        ids.push(this.locationOf([...inlined, f]));
      else ids.push(...inlined.map((i) => this.locationOf([i])), this.locationOf([f]));
      inlined = [];
    }
    // Inlined frames with no enclosing frame above them stand alone.
    for (const f of inlined) ids.push(this.locationOf([f]));
    this.stackLocations.set(stack, ids);
    return ids;
  }

  private noStackLocation(): number {
    const have = this.locations.get('none');
    if (have) return have.id as number;
    const fn = new PprofFunction({ id: this.functions.size + 1, name: this.strings.dedup(NO_STACK_FRAME) });
    this.functions.set(`\u0000${NO_STACK_FRAME}`, fn);
    const loc = new Location({ id: this.locations.size + 1, line: [new Line({ functionId: fn.id })] });
    this.locations.set('none', loc);
    return loc.id as number;
  }

  /** The Location for frames innermost first; the last one's module and address are the Location's. */
  private locationOf(frameList: number[]): number {
    const key = frameList.join(',');
    const have = this.locations.get(key);
    if (have) return have.id as number;
    const { frames, strings } = this.p;
    const outer = frameList[frameList.length - 1];
    const address = frames.address[outer] === -1 ? 0n : hexAddress(strings[frames.address[outer]]);
    const loc = new Location({
      id: this.locations.size + 1,
      mappingId: this.mappingOf(strings[frames.module[outer]]),
      address,
      line: frameList.map((f) => new Line({ functionId: this.functionOf(f) })),
    });
    this.locations.set(key, loc);
    return loc.id as number;
  }

  private mappingOf(module: string): number {
    if (module === '') return 0;
    let m = this.mappings.get(module);
    if (m === undefined) {
      m = new Mapping({
        id: this.mappings.size + 1,
        filename: this.strings.dedup(module),
        hasFunctions: true,
      });
      this.mappings.set(module, m);
    }
    return m.id as number;
  }

  private functionOf(f: number): number {
    const { frames, strings } = this.p;
    const name = strings[frames.name[f]];
    const kind = frames.kind[f];
    const shown =
      kind === FrameKind.kernel ? name + KERNEL_SUFFIX : kind === FrameKind.jit ? name + JIT_SUFFIX : name;
    let fn = this.functions.get(shown);
    if (fn === undefined) {
      fn = new PprofFunction({
        id: this.functions.size + 1,
        name: this.strings.dedup(shown),
        systemName: this.strings.dedup(name),
      });
      this.functions.set(shown, fn);
    }
    return fn.id as number;
  }
}

/** perf prints addresses as bare hex; anything else (or nothing) is address 0. */
function hexAddress(text: string): bigint {
  return /^(?:0x)?[0-9a-f]{1,16}$/i.test(text) ? BigInt(text.startsWith('0x') ? text : `0x${text}`) : 0n;
}

/** The most common sample weight: the event's period (pprof's `period` field). */
function typicalPeriod(p: Profile): number {
  const counts = new Map<number, number>();
  const { weight } = p.samples;
  for (let i = 0; i < weight.length; i++) counts.set(weight[i], (counts.get(weight[i]) ?? 0) + 1);
  let best = 0;
  let bestCount = 0;
  for (const [w, c] of counts) {
    if (c > bestCount) {
      best = w;
      bestCount = c;
    }
  }
  return Math.round(best);
}
