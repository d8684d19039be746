/**
 * A one-line progress indicator on stderr, shown only on a TTY and only once a step has taken
 * longer than a second (short steps stay quiet).
 */
export interface Progress {
  update(fraction: number, detail?: string): void;
  done(): void;
}

const SHOW_AFTER_MS = 1000;
const REDRAW_MS = 100;

export function progress(label: string, enabled = process.stderr.isTTY === true): Progress {
  const start = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(fraction, detail) {
      if (!enabled) return;
      const now = Date.now();
      if (now - start < SHOW_AFTER_MS || now - last < REDRAW_MS) return;
      last = now;
      shown = true;
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      process.stderr.write(`\r\u001b[K${label} ${pct}%${detail ? ` ${detail}` : ''}`);
    },
    done() {
      if (shown) process.stderr.write('\r\u001b[K');
    },
  };
}
