/**
 * Folded stacks, one stack per line, root first, then a space and a count:
 *
 *   java;start_thread;JavaMain;Interpreter 12
 *   bash-1234/1234;[unknown];__libc_fork_[k] 200040
 *
 * as written by FlameGraph's stackcollapse-*.pl and inferno-collapse-*. The first frame is the
 * process name (optionally `-PID` or `-PID/TID`); `_[k]` marks kernel frames, `_[j]` JIT frames
 * and `_[i]` inlined frames (the `--all` / `--kernel` / `--jit` annotations).
 */
import { ProfileBuilder } from '../model/builder.ts';
import { FrameKind, type FrameKindCode, type Profile, UNKNOWN_PID } from '../model/profile.ts';
import { decode, isDigit, SEMICOLON, SPACE, skipSpaces, trimEnd } from './bytes.ts';
import { InputError } from './errors.ts';
import { forEachLine } from './lines.ts';

/** yes: the first content line is `frames count`; need-more: no complete line yet. */
export function sniffFolded(head: Uint8Array, complete: boolean): 'yes' | 'no' | 'need-more' {
  let pos = 0;
  while (pos < head.length) {
    const nl = head.indexOf(0x0a, pos);
    if (nl === -1 && !complete) return 'need-more';
    const end = trimEnd(head, pos, nl === -1 ? head.length : nl);
    const s = skipSpaces(head, pos, end);
    if (s < end) return countStart(head, s, end) > s ? 'yes' : 'no';
    if (nl === -1) break;
    pos = nl + 1;
  }
  return complete ? 'no' : 'need-more';
}

/** Index of the count's first digit (after the last space), or -1. */
function countStart(buf: Uint8Array, s: number, e: number): number {
  let i = e;
  while (i > s && isDigit(buf[i - 1])) i--;
  if (i === e || i <= s || buf[i - 1] !== SPACE) return -1;
  return i;
}

/** Counts are u64 in the tools that write folded stacks; longer digit runs would parse to Infinity. */
const MAX_COUNT_DIGITS = 20;

const annotation = /_\[([kjiw])\]$/;

function frameOf(b: ProfileBuilder, raw: string) {
  const m = annotation.exec(raw);
  let kind: FrameKindCode = FrameKind.user;
  let name = raw;
  let inlined = false;
  if (m) {
    name = raw.slice(0, -4);
    if (m[1] === 'k') kind = FrameKind.kernel;
    else if (m[1] === 'j') kind = FrameKind.jit;
    else if (m[1] === 'i') inlined = true;
  }
  return b.frame(name, '', kind, inlined, null);
}

const pname = /^(.*)-(\?|-?\d+)(?:\/(-?\d+))?$/;

export async function parseFolded(chunks: AsyncIterable<Uint8Array>, file: string): Promise<Profile> {
  const b = new ProfileBuilder(file, 'folded');
  b.meta.event = 'folded';
  const frameCache = new Map<string, number>();
  let samples = 0;
  const stats = await forEachLine(
    chunks,
    {
      line(buf, start, end, lineNo) {
        end = trimEnd(buf, start, end);
        const s = skipSpaces(buf, start, end);
        if (s === end) return;
        const c = countStart(buf, s, end);
        if (c === -1) {
          b.oddity('line without a trailing count', lineNo, decode(buf, start, end));
          return;
        }
        if (end - c > MAX_COUNT_DIGITS) {
          b.oddity('line with a count of more than 20 digits', lineNo, decode(buf, start, end));
          return;
        }
        const weight = Number(decode(buf, c, end));
        let stack = -1;
        let first = true;
        let comm = b.strings.intern('');
        let pid = UNKNOWN_PID;
        let tid = UNKNOWN_PID;
        let p = s;
        const stop = c - 1;
        while (p <= stop) {
          let q = buf.indexOf(SEMICOLON, p);
          if (q === -1 || q > stop) q = stop;
          const raw = decode(buf, p, q);
          if (first) {
            first = false;
            const m = pname.exec(raw);
            comm = b.strings.intern(m ? m[1] : raw);
            if (m && m[2] !== '?') pid = Number(m[2]);
            tid = m?.[3] !== undefined ? Number(m[3]) : pid;
          } else {
            let f = frameCache.get(raw);
            if (f === undefined) {
              f = frameOf(b, raw);
              frameCache.set(raw, f);
            }
            stack = b.stack(stack, f);
          }
          p = q + 1;
        }
        samples++;
        b.addSample({ stack, time: Number.NaN, weight, pid, tid, cpu: -1, comm, cgroup: b.unknownCgroup });
      },
    },
    undefined,
    0,
    file,
  );
  if (samples === 0) {
    throw new InputError(
      file,
      null,
      'folded stacks ("frame;frame;frame COUNT" lines)',
      stats.lines === 0 ? 'an empty file' : 'no such line',
    );
  }
  if (stats.endedMidLine) {
    b.meta.truncated = true;
    b.meta.warnings.push(`${file}: the last line has no newline; its count may be cut`);
  }
  b.meta.events = [{ name: 'folded', samples }];
  b.meta.warnings.push(
    `${file}: folded stacks carry no cgroups, times or modules; kernel frames are recognised only by a _[k] suffix`,
  );
  return b.finish();
}
