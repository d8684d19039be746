/**
 * The sample header line of `perf script` text. perf prints (tools/perf/builtin-script.c,
 * perf_sample__fprintf_start and process_event at perf v6.1 tag 830b3c68c1fb):
 *
 *   COMM PID/TID [CPU] SECS.USECS: PERIOD EVENT: [payload | single-line frame]
 *
 * where every field but COMM and EVENT can be absent, COMM is padded to 16 columns unless a
 * call chain is printed, and EVENT names are right-aligned to the longest one. Real lines:
 *
 *   bash 25291   528.049346:     250000 cpu-clock:pppH:
 *   perf-exec  1750/1750  [000]    45.797344:     250000 cpu-clock:ppp:
 *   iperf 27409/28744 [000] 441995.133575: cpu-clock:
 *   java 19983 cycles:
 *              false 39654 19115.489713:          1 cycles:u:  ffffffff9b201293 [unknown] ([unknown])
 *   find 31340 [001]   246.611201:          1 sched:sched_switch: prev_comm=find prev_pid=31340 ...
 *   Web Content 2 25295   528.058730:     250000 cpu-clock:pppH:
 *   a:b [x] 12.5: 25296   528.061983:     250000 cpu-clock:pppH:
 *
 * COMM may contain spaces, digits-only words, colons and invalid UTF-8, so it cannot be split off
 * from the left. Instead every digits-only word is tried as the PID and the rest of the line must
 * parse as the tail grammar ([CPU] TIME: PERIOD EVENT:). The first header of a file fixes which
 * optional fields the file has; later headers must agree, which resolves lines such as
 * "a 1 b: c 123 1.0: 100 cpu-clock:".
 */
import { UNKNOWN_PID } from '../../model/profile.ts';
import { COLON, DOT, isDigit, LBRACKET, MINUS, RBRACKET, SLASH, SPACE, TAB } from '../bytes.ts';

export interface HeaderFields {
  commStart: number;
  commEnd: number;
  /** UNKNOWN_PID when the line carried only one number (perf's default prints the TID). */
  pid: number;
  tid: number;
  cpu: number;
  /** Seconds, NaN if absent. */
  time: number;
  /** Integer nanoseconds parsed exactly from the digits, NaN if absent. */
  timeNs: number;
  /** NaN when the event has no period (tracepoints, old perf). */
  period: number;
  eventStart: number;
  eventEnd: number;
  /** First byte after the event token (payload or single-line frame), `end` if none. */
  restStart: number;
}

/** Which optional fields a file's headers carry; fixed by its first header. */
export interface HeaderLayout {
  cpu: boolean;
  time: boolean;
}

const MAX_TOKENS = 48;
const tokStart = new Int32Array(MAX_TOKENS);
const tokEnd = new Int32Array(MAX_TOKENS);

/**
 * Parses a header line into `out`. Returns the layout it matched, or null if the line is not a
 * header. `layout` (from earlier headers) is preferred when several readings are possible.
 */
export function parseHeader(
  buf: Uint8Array,
  start: number,
  end: number,
  layout: HeaderLayout | null,
  out: HeaderFields,
): HeaderLayout | null {
  let n = 0;
  let i = start;
  while (i < end && n < MAX_TOKENS) {
    while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
    if (i >= end) break;
    tokStart[n] = i;
    while (i < end && buf[i] !== SPACE && buf[i] !== TAB) i++;
    tokEnd[n++] = i;
  }
  let best = -1;
  let bestScore = -1;
  let bestCpu = false;
  let bestTime = false;
  // k = 0 reads an empty COMM (a task renamed to "" with prctl).
  for (let k = 0; k < n - 1; k++) {
    if (!isPidToken(buf, tokStart[k], tokEnd[k])) continue;
    let j = k + 1;
    const hasCpu = j < n && isCpuToken(buf, tokStart[j], tokEnd[j]);
    if (hasCpu) j++;
    const hasTime = j < n && isTimeToken(buf, tokStart[j], tokEnd[j]);
    if (hasTime) j++;
    if (j < n && isDigitsToken(buf, tokStart[j], tokEnd[j]) && j + 1 < n) j++;
    if (j >= n || !isEventToken(buf, tokStart[j], tokEnd[j])) continue;
    if (layout !== null) {
      if (layout.cpu === hasCpu && layout.time === hasTime) {
        best = k;
        bestCpu = hasCpu;
        bestTime = hasTime;
        break;
      }
    }
    const score = (hasCpu ? 2 : 0) + (hasTime ? 2 : 0) + (k === 0 ? 0 : 1);
    if (score > bestScore) {
      best = k;
      bestScore = score;
      bestCpu = hasCpu;
      bestTime = hasTime;
    }
  }
  if (best === -1) return null;
  fill(buf, best, bestCpu, bestTime, end, out);
  return layout !== null && layout.cpu === bestCpu && layout.time === bestTime
    ? layout
    : { cpu: bestCpu, time: bestTime };
}

function fill(
  buf: Uint8Array,
  k: number,
  hasCpu: boolean,
  hasTime: boolean,
  end: number,
  out: HeaderFields,
): void {
  out.commStart = tokStart[0];
  out.commEnd = k === 0 ? tokStart[0] : tokEnd[k - 1];
  const ps = tokStart[k];
  const pe = tokEnd[k];
  // A byte loop over the short PID token: a native indexOf call per header cost more.
  let slash = ps;
  while (slash < pe && buf[slash] !== SLASH) slash++;
  if (slash < pe) {
    out.pid = parseInt32(buf, ps, slash);
    out.tid = parseInt32(buf, slash + 1, pe);
  } else {
    out.pid = UNKNOWN_PID;
    out.tid = parseInt32(buf, ps, pe);
  }
  let j = k + 1;
  out.cpu = -1;
  if (hasCpu) {
    out.cpu = parseInt32(buf, tokStart[j] + 1, tokEnd[j] - 1);
    j++;
  }
  out.time = Number.NaN;
  out.timeNs = Number.NaN;
  if (hasTime) {
    parseTime(buf, tokStart[j], tokEnd[j] - 1, out);
    j++;
  }
  out.period = Number.NaN;
  if (isDigitsToken(buf, tokStart[j], tokEnd[j])) {
    out.period = parseUnsigned(buf, tokStart[j], tokEnd[j]);
    j++;
  }
  out.eventStart = tokStart[j];
  out.eventEnd = tokEnd[j] - 1;
  out.restStart = tokEnd[j] < end ? tokEnd[j] + 1 : end;
}

function isPidToken(buf: Uint8Array, s: number, e: number): boolean {
  let i = s;
  if (buf[i] === MINUS) i++;
  const d0 = i;
  while (i < e && isDigit(buf[i])) i++;
  if (i === d0) return false;
  if (i === e) return true;
  if (buf[i] !== SLASH) return false;
  i++;
  if (i < e && buf[i] === MINUS) i++;
  const d1 = i;
  while (i < e && isDigit(buf[i])) i++;
  return i === e && i > d1;
}

function isCpuToken(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s < 3 || buf[s] !== LBRACKET || buf[e - 1] !== RBRACKET) return false;
  for (let i = s + 1; i < e - 1; i++) if (!isDigit(buf[i])) return false;
  return true;
}

/**
 * perf prints u64 values (periods, and seconds of a u64 nanosecond clock), so at most 20 digits;
 * a longer number is not one of these fields (and would parse to Infinity).
 */
const MAX_U64_DIGITS = 20;

/** `SECS.FRAC:` */
function isTimeToken(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s < 4 || buf[e - 1] !== COLON) return false;
  let i = s;
  while (i < e - 1 && isDigit(buf[i])) i++;
  if (i === s || i - s > MAX_U64_DIGITS || buf[i] !== DOT) return false;
  const f = ++i;
  while (i < e - 1 && isDigit(buf[i])) i++;
  return i === e - 1 && i > f;
}

function isDigitsToken(buf: Uint8Array, s: number, e: number): boolean {
  if (s >= e || e - s > MAX_U64_DIGITS) return false;
  for (let i = s; i < e; i++) if (!isDigit(buf[i])) return false;
  return true;
}

/** An event name followed by a colon: starts with a letter or `_`, e.g. `cpu-clock:pppH:`. */
function isEventToken(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s < 2 || buf[e - 1] !== COLON) return false;
  const c = buf[s] | 0x20;
  return (c >= 0x61 && c <= 0x7a) || buf[s] === 0x5f;
}

function parseInt32(buf: Uint8Array, s: number, e: number): number {
  let neg = false;
  if (s < e && buf[s] === MINUS) {
    neg = true;
    s++;
  }
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + (buf[i] - 0x30);
  v = neg ? -v : v;
  return v > 2147483647 || v < -2147483648 ? UNKNOWN_PID : v;
}

function parseUnsigned(buf: Uint8Array, s: number, e: number): number {
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + (buf[i] - 0x30);
  return v;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

function parseTime(buf: Uint8Array, s: number, e: number, out: HeaderFields): void {
  let secs = 0;
  let i = s;
  while (buf[i] !== DOT) secs = secs * 10 + (buf[i++] - 0x30);
  i++;
  let frac = 0;
  let digits = 0;
  for (; i < e && digits < 22; i++, digits++) frac = frac * 10 + (buf[i] - 0x30);
  out.time = secs + frac / POW10[digits];
  out.timeNs = digits <= 9 ? secs * 1e9 + frac * POW10[9 - digits] : Number.NaN;
}

export function newHeaderFields(): HeaderFields {
  return {
    commStart: 0,
    commEnd: 0,
    pid: UNKNOWN_PID,
    tid: 0,
    cpu: -1,
    time: Number.NaN,
    timeNs: Number.NaN,
    period: Number.NaN,
    eventStart: 0,
    eventEnd: 0,
    restStart: 0,
  };
}
