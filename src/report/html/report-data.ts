/**
 * The document embedded in an HTML report as JSON: what the browser app renders. The analysis part
 * is the public `analyze --json` document (schema.ts), unchanged; the rest is what a picture needs
 * and the JSON document does not carry (the flame tree, the timeline, lab tables, diff deltas).
 * Both the writer (Node) and the app (browser) import these types.
 */
import type { AnalyzeJson } from '../schema.ts';

export const REPORT_DATA_VERSION = 1;

export {
  type FlameData,
  FlameKind,
  type FlameView,
  type TimelineData,
  type TimelineSeries,
} from '../../analysis/view-data.ts';

import type { FlameData, TimelineData } from '../../analysis/view-data.ts';

export interface MetadataRow {
  label: string;
  value: string;
}

export interface CounterRow {
  /** Container name, or null for the host. */
  container: string | null;
  /** The metric's key (`dentry.negative.delta`), shown as a tooltip. */
  metric: string;
  /** What people read: `negative dentries added during the window`. */
  label: string;
  value: number;
  /** The value in its unit: `1,289,652`, `12.5 MiB`, `3.2%`. */
  text: string;
  /** A diff's counters: the baseline's value and the change; absent for one run. */
  baseline?: string;
  change?: string;
}

export interface LabPhaseRow {
  label: string;
  containers: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  throughputPerSec: number;
}

export interface LabSummary {
  scenario: string;
  title: string;
  runs: number;
  durationSeconds: number;
  phases: LabPhaseRow[];
  groundTruth: {
    victim: string;
    antagonists: string[];
    syscall: string;
    callSite: string;
    kernelResource: string;
    fix: string;
  };
}

export interface DiffDeltaRow {
  name: string;
  status: string | null;
  baseline: number;
  target: number;
  delta: number;
}

export interface DiffSummary {
  normalize: string;
  /** share: fraction of each run's total; cpus: CPUs busy on average; per-second: events/s. */
  unit: string;
  baselineSource: string;
  targetSource: string;
  split: { user: DiffDeltaRow; kernel: DiffDeltaRow; idle: DiffDeltaRow };
  /** Kernel time per container. */
  containers: DiffDeltaRow[];
  syscalls: DiffDeltaRow[];
  /** Blocked tasks on average per container (off-CPU); null unless both runs recorded switches. */
  offCpuBlocked: DiffDeltaRow[] | null;
}

export interface ReportData {
  version: typeof REPORT_DATA_VERSION;
  kind: 'analysis' | 'diff';
  title: string;
  /** ISO 8601. */
  generatedAt: string;
  /** The `analyze --json` document (of the target run, in a diff). */
  analysis: AnalyzeJson;
  diff: DiffSummary | null;
  flame: FlameData;
  timeline: TimelineData | null;
  metadata: MetadataRow[];
  counters: CounterRow[];
  lab: LabSummary | null;
}
