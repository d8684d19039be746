/**
 * What can be told about perf script text without parsing it all: whether a head of bytes is perf
 * script at all, which event and call-graph mode it announces, and how events are named.
 */
import type { CallGraphMode } from '../../model/profile.ts';
import { decode, HASH, skipSpaces, trimEnd } from '../bytes.ts';
import { newHeaderFields, parseHeader } from './header.ts';

/** Base name of an event: `cycles:u` -> `cycles`, `cpu-clock:pppH` -> `cpu-clock`; tracepoints keep `sys:name`. */
export function eventBase(name: string): string {
  return name.replace(/\/[^/]*\/$/, '').replace(/:[ukhIGHpPSDWeb]+$/, '');
}

export function severalEventsWarning(file: string, events: { name: string }[], chosen: string): string {
  const bases = [...new Set(events.map((e) => eventBase(e.name)))];
  return `${file}: ${bases.length} events in the input (${bases.join(', ')}); using the first, ${eventBase(chosen)}; choose another with --event`;
}

/** Call-graph mode from a perf record command line. */
export function callGraphFromCmdline(cmdline: string): CallGraphMode {
  const m = /--call-graph[ =]([a-z]+)/.exec(cmdline);
  if (m) return m[1] === 'dwarf' ? 'dwarf' : m[1] === 'lbr' ? 'lbr' : m[1] === 'fp' ? 'fp' : 'unknown';
  if (/(^|\s)-[a-zA-Z]*g(\s|$)/.test(cmdline)) return 'fp';
  return 'none';
}

/**
 * yes: the first line that is not a comment or blank is a sample header. need-more: no complete
 * line yet (`complete` says the head is the whole input).
 */
export function sniffPerfScript(head: Uint8Array, complete: boolean): 'yes' | 'no' | 'need-more' {
  let pos = 0;
  const fields = newHeaderFields();
  while (pos < head.length) {
    const nl = head.indexOf(0x0a, pos);
    if (nl === -1 && !complete) return 'need-more';
    const lineEnd = nl === -1 ? head.length : nl;
    const end = trimEnd(head, pos, lineEnd);
    const s = skipSpaces(head, pos, end);
    if (s < end && head[s] !== HASH) return parseHeader(head, pos, end, null, fields) !== null ? 'yes' : 'no';
    if (nl === -1) break;
    pos = nl + 1;
  }
  return complete ? 'no' : 'need-more';
}

/**
 * The event and the call-graph mode a file's head announces, for parts parsed separately. The
 * event is the first whose base is not `skipEvent`'s (the context switches kept beside the profile).
 */
export function headFacts(
  head: Uint8Array,
  skipEvent?: string,
): { event: string | null; callGraph: CallGraphMode | null } {
  const skip = skipEvent === undefined ? null : eventBase(skipEvent);
  let pos = 0;
  let callGraph: CallGraphMode | null = null;
  const fields = newHeaderFields();
  while (pos < head.length) {
    const nl = head.indexOf(0x0a, pos);
    if (nl === -1) break;
    const end = trimEnd(head, pos, nl);
    const s = skipSpaces(head, pos, end);
    if (s < end && head[s] === HASH) {
      const m = /^#\s*cmdline\s*:\s*(.*)$/.exec(decode(head, s, end));
      if (m) callGraph = callGraphFromCmdline(m[1]);
    } else if (s < end && parseHeader(head, pos, end, null, fields) !== null) {
      const event = decode(head, fields.eventStart, fields.eventEnd);
      if (eventBase(event) !== skip) return { event, callGraph };
    }
    pos = nl + 1;
  }
  return { event: null, callGraph };
}
