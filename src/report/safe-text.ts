/**
 * Profile-derived text (process names, symbols, paths) is untrusted: it can carry ANSI escape
 * sequences, terminal control characters, or be megabytes long. Everything printed to a terminal
 * goes through `safeText`.
 */

/** Longest name printed in full; longer ones keep their start and end. */
const MAX_NAME = 160;

const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Control characters as visible `\xNN` / `\uNNNN` escapes, cut to `max` characters. */
export function safeText(s: string, max = MAX_NAME): string {
  const escaped = s.replace(control, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  if (escaped.length <= max) return escaped;
  const half = Math.floor((max - 1) / 2);
  return `${escaped.slice(0, half)}…${escaped.slice(escaped.length - half)}`;
}

/**
 * A line of a machine format (folded stacks, JSON) about to be shown on a terminal: control
 * characters escaped as in safeText, nothing cut. Output to a pipe or file stays byte-exact.
 */
export function inertLine(s: string): string {
  return safeText(s, Number.POSITIVE_INFINITY);
}

export function percent(x: number, digits = 1): string {
  if (x > 0 && x < 0.0005) return '<0.1%';
  return `${(100 * x).toFixed(digits)}%`;
}

/** Pads to a display width, counting code points (names may hold non-ASCII text); never glues cells. */
export function pad(s: string, width: number, right = false): string {
  const len = [...s].length;
  // A cell wider than its column still keeps a space from its neighbour: `1,247,814,784` in an
  // 11-wide column after `0` must not read `01,247,814,784`.
  if (len >= width) return right ? ` ${s}` : `${s} `;
  const fill = ' '.repeat(width - len);
  return right ? fill + s : s + fill;
}

export function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
