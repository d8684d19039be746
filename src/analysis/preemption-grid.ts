/**
 * The victim x culprit matrix laid out for reading: the top rows and columns, a cell per pair, the
 * rest summed. No imports, so the HTML report's browser code and the terminal share it; it works
 * on the analysis result and on its JSON alike.
 */

interface GridVictim {
  id: string;
  host: string | null;
  runnableSeconds: number;
  waits: { culprit: string; seconds: number }[];
}

interface GridCulprit {
  id: string;
  host: string | null;
}

export interface PreemptionGrid<V, C> {
  columns: C[];
  rows: {
    victim: V;
    /** Seconds per column; a victim's own column is its self waits. */
    cells: number[];
    /** Seconds behind culprits outside the columns. */
    other: number;
  }[];
}

export function preemptionGrid<V extends GridVictim, C extends GridCulprit>(
  m: { victims: V[]; culprits: C[] },
  maxRows = 6,
  maxColumns = 5,
): PreemptionGrid<V, C> {
  const rows = m.victims.slice(0, maxRows);
  const columns = m.culprits
    .filter((c) => rows.some((v) => v.host === c.host && v.waits.some((w) => w.culprit === c.id)))
    .slice(0, maxColumns);
  return {
    columns,
    rows: rows.map((v) => {
      const cells = columns.map((c) =>
        c.host === v.host ? (v.waits.find((w) => w.culprit === c.id)?.seconds ?? 0) : 0,
      );
      const shown = cells.reduce((a, x) => a + x, 0);
      return { victim: v, cells, other: Math.max(0, v.runnableSeconds - shown) };
    }),
  };
}
