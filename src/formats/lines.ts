/** Splits a stream of byte chunks into lines without joining whole chunks. */
import { InputError } from './errors.ts';

export interface LineSink {
  /** One line, without its `\n`. `lineNo` counts from 1. */
  line(buf: Uint8Array, start: number, end: number, lineNo: number): void;
  /**
   * The input's last line when no newline ends it: it may have been cut anywhere. Without this
   * method, such a line goes to `line` like any other.
   */
  partialLine?(buf: Uint8Array, start: number, end: number, lineNo: number): void;
}

export interface LineStats {
  lines: number;
  bytes: number;
  /** The input did not end with a newline: its last line may be cut. */
  endedMidLine: boolean;
}

/**
 * Longest line accepted, bytes. The longest lines in real inputs are folded stacks (8 KB in the
 * corpus; a 40,000-frame stack of 200-byte names still fits); a longer "line" is not a profile,
 * and without a limit one line would be held in memory whole (a 100 MB line took 3 s and 300 MB).
 */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** The pieces of a line that spans chunks, joined once when its end arrives. */
class Carry {
  private parts: Uint8Array[] = [];
  length = 0;

  add(piece: Uint8Array): void {
    this.parts.push(piece);
    this.length += piece.length;
  }

  take(): Uint8Array {
    const out = this.parts.length === 1 ? this.parts[0] : new Uint8Array(this.length);
    if (this.parts.length > 1) {
      let at = 0;
      for (const p of this.parts) {
        out.set(p, at);
        at += p.length;
      }
    }
    this.parts = [];
    this.length = 0;
    return out;
  }
}

/** The error for a line longer than MAX_LINE_BYTES. */
export function lineTooLong(file: string, lineNo: number): InputError {
  return new InputError(
    file,
    lineNo,
    `lines of at most ${MAX_LINE_BYTES / (1024 * 1024)} MiB`,
    'a longer line (is this a profile?)',
  );
}

/** `file` names the input in the error for a line longer than MAX_LINE_BYTES. */
export async function forEachLine(
  chunks: AsyncIterable<Uint8Array>,
  sink: LineSink,
  onProgress?: (bytes: number) => void,
  lineOffset = 0,
  file = '',
): Promise<LineStats> {
  const carry = new Carry();
  let lineNo = lineOffset;
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    let pos = 0;
    if (carry.length > 0) {
      const nl = chunk.indexOf(0x0a);
      if (carry.length + (nl === -1 ? chunk.length : nl) > MAX_LINE_BYTES)
        throw lineTooLong(file, lineNo + 1);
      if (nl === -1) {
        carry.add(chunk.slice());
        continue;
      }
      carry.add(chunk.subarray(0, nl));
      const joined = carry.take();
      sink.line(joined, 0, joined.length, ++lineNo);
      pos = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl === -1) break;
      if (nl - pos > MAX_LINE_BYTES) throw lineTooLong(file, lineNo + 1);
      sink.line(chunk, pos, nl, ++lineNo);
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      if (chunk.length - pos > MAX_LINE_BYTES) throw lineTooLong(file, lineNo + 1);
      carry.add(chunk.slice(pos));
    }
    onProgress?.(bytes);
  }
  const endedMidLine = carry.length > 0;
  if (endedMidLine) {
    const last = carry.take();
    if (sink.partialLine) sink.partialLine(last, 0, last.length, ++lineNo);
    else sink.line(last, 0, last.length, ++lineNo);
  }
  return { lines: lineNo - lineOffset, bytes, endedMidLine };
}
