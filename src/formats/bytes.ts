/** Byte-level helpers shared by the text importers (inputs are scanned as bytes, not strings). */
export const SPACE = 0x20;
export const TAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const HASH = 0x23;
export const COLON = 0x3a;
export const SLASH = 0x2f;
export const DOT = 0x2e;
export const MINUS = 0x2d;
export const PLUS = 0x2b;
export const LPAREN = 0x28;
export const RPAREN = 0x29;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const SEMICOLON = 0x3b;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decodes bytes as UTF-8; invalid sequences become U+FFFD (as inferno and FlameGraph do). */
export function decode(buf: Uint8Array, start: number, end: number): string {
  return utf8.decode(buf.subarray(start, end));
}

export function isSpace(c: number): boolean {
  return c === SPACE || c === TAB;
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

export function allDigits(buf: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (!isDigit(buf[i])) return false;
  return true;
}

/** Parses an optionally negative decimal integer; NaN when the bytes are not one. */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  let neg = false;
  if (start < end && buf[start] === MINUS) {
    neg = true;
    start++;
  }
  if (start >= end || end - start > 15) return Number.NaN;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) return Number.NaN;
    v = v * 10 + (c - 0x30);
  }
  return neg ? -v : v;
}

/** Index of the first byte that is not a space or tab, or `end`. */
export function skipSpaces(buf: Uint8Array, start: number, end: number): number {
  while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++;
  return start;
}

/** `end` moved back over trailing spaces, tabs and CRs. */
export function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start) {
    const c = buf[end - 1];
    if (c !== SPACE && c !== TAB && c !== CR) break;
    end--;
  }
  return end;
}
