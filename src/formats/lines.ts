/** Splits a stream of byte chunks into lines without joining whole chunks. */

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

export async function forEachLine(
  chunks: AsyncIterable<Uint8Array>,
  sink: LineSink,
  onProgress?: (bytes: number) => void,
  lineOffset = 0,
): Promise<LineStats> {
  let carry: Uint8Array | null = null;
  let lineNo = lineOffset;
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    let pos = 0;
    if (carry !== null) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) {
        carry = concat(carry, chunk);
        continue;
      }
      const joined = concat(carry, chunk.subarray(0, nl));
      carry = null;
      sink.line(joined, 0, joined.length, ++lineNo);
      pos = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl === -1) break;
      sink.line(chunk, pos, nl, ++lineNo);
      pos = nl + 1;
    }
    if (pos < chunk.length) carry = chunk.slice(pos);
    onProgress?.(bytes);
  }
  const endedMidLine = carry !== null && carry.length > 0;
  if (carry !== null && carry.length > 0) {
    if (sink.partialLine) sink.partialLine(carry, 0, carry.length, ++lineNo);
    else sink.line(carry, 0, carry.length, ++lineNo);
  }
  return { lines: lineNo - lineOffset, bytes, endedMidLine };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
