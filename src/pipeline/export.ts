/**
 * `export`: the profile as pprof, speedscope JSON or folded stacks, with the labeller's container,
 * category and syscall labels, and the host above everything for several hosts.
 */
import type { SampleLabels } from '../analysis/sample-labels.ts';
import { collapseProfile } from '../formats/collapse.ts';
import { pprofOf } from '../formats/pprof-export.ts';
import { speedscopeOf } from '../formats/speedscope.ts';
import { isMultiHost } from '../model/hosts.ts';
import { TOOL_VERSION } from '../report/json.ts';

export type ExportFormat = 'pprof' | 'speedscope' | 'folded';

/** speedscope: one profile per container or process; folded: container puts the container above the process. */
export type ExportGrouping = 'container' | 'process';

/** `counts`: folded lines count samples instead of summing periods (ns for cpu-clock). Default false. */
export function exportBytes(
  labels: SampleLabels,
  format: ExportFormat,
  by: ExportGrouping,
  counts = false,
): Uint8Array {
  const p = labels.profile;
  switch (format) {
    case 'pprof':
      return pprofOf(p, { labels });
    case 'speedscope': {
      const file = speedscopeOf(p, { by, labels, exporter: `crosstalk ${TOOL_VERSION}` });
      return Buffer.from(JSON.stringify(file));
    }
    case 'folded': {
      const multiHost = isMultiHost(p);
      const rootOf = (i: number): string => {
        const host = multiHost ? p.strings[p.samples.host[i]] : '';
        const container = by === 'container' ? labels.identity(i).name.replaceAll(';', ':') : '';
        return [host, container].filter((x) => x !== '').join(';');
      };
      const lines = collapseProfile(p, {
        all: true,
        counts,
        rootOf: multiHost || by === 'container' ? rootOf : undefined,
      });
      return Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : '');
    }
  }
}
