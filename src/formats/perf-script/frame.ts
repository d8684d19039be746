/**
 * Call chain lines of `perf script` text (builtin-script.c, perf_sample__fprintf_callchain ->
 * sample__fprintf_callchain in util/evsel_fprintf.c at perf v6.1). Real lines:
 *
 *   	ffffffff8159a472 generic_fadvise+0x1c2 ([kernel.kallsyms])
 *   	           fc3ca __GI___posix_fadvise64_l64+0xa (inlined)
 *   	    7fdafb3f78a8 [unknown] ([unknown])
 *               13a80b608e0a RegExp:[&<>\"\'] (/tmp/perf-7539.map)
 *   	    2ab7c8a3f4d1 JS:^fib /srv/demo/busy.js:2:13+0x9d (/tmp/perf-9244.map)
 *   	           c2972 [unknown] (/memfd:sealed-91173221a7ea (deleted))
 *   ffffffff8103d0ca native_write_msr_safe ([kernel.kallsyms])          (old perf: unindented)
 *
 * i.e. ADDRESS SYMBOL[+0xOFFSET] (MODULE). The module is the last balanced parenthesised group,
 * so symbols with parentheses and modules such as "(x (deleted))" both survive.
 */
import { FrameKind, type FrameKindCode } from '../../model/profile.ts';
import { isHexDigit, LPAREN, PLUS, RPAREN, SPACE, TAB } from '../bytes.ts';

export interface FrameSpans {
  pcStart: number;
  pcEnd: number;
  symStart: number;
  /** End of the symbol with any `+0x<hex>` offset removed. */
  symEnd: number;
  /** End of the symbol with its offset: past symEnd when perf printed `+0x<hex>` (field symoff). */
  offEnd: number;
  modStart: number;
  modEnd: number;
}

/** Fills `out` if buf[start, end) is a call chain line (start at its first non-blank byte). */
export function parseFrameLine(buf: Uint8Array, start: number, end: number, out: FrameSpans): boolean {
  let i = start;
  while (i < end && isHexDigit(buf[i])) i++;
  if (i === start || i >= end || (buf[i] !== SPACE && buf[i] !== TAB)) return false;
  const pcEnd = i;
  while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  const symStart = i;
  if (buf[end - 1] !== RPAREN) return false;
  let depth = 0;
  let j = end - 1;
  for (; j >= symStart; j--) {
    const c = buf[j];
    if (c === RPAREN) depth++;
    else if (c === LPAREN && --depth === 0) break;
  }
  if (j < symStart) return false;
  if (j > symStart && buf[j - 1] !== SPACE) return false;
  let symEnd = j;
  while (symEnd > symStart && buf[symEnd - 1] === SPACE) symEnd--;
  out.pcStart = start;
  out.pcEnd = pcEnd;
  out.symStart = symStart;
  out.symEnd = stripOffset(buf, symStart, symEnd);
  out.offEnd = symEnd;
  out.modStart = j + 1;
  out.modEnd = end - 1;
  return true;
}

/** `name+0x1f` -> `name`; left alone unless everything after the last `+0x` is hex. */
function stripOffset(buf: Uint8Array, start: number, end: number): number {
  for (let i = end - 1; i >= start + 2; i--) {
    const c = buf[i];
    if (isHexDigit(c)) continue;
    if (c === 0x78 && buf[i - 1] === 0x30 && i - 2 >= start && buf[i - 2] === PLUS && i + 1 < end) {
      return i - 2;
    }
    return end;
  }
  return end;
}

/** The `+0x<hex>` symbol offset of a parsed frame line, or NaN when perf printed none. */
export function symbolOffsetOf(buf: Uint8Array, sp: FrameSpans): number {
  if (sp.offEnd <= sp.symEnd + 3) return Number.NaN;
  let v = 0;
  for (let i = sp.symEnd + 3; i < sp.offEnd; i++) {
    const c = buf[i] | 0x20;
    v = v * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : Number.NaN;
}

const kernelModule =
  /^\[(?:kernel\.|guest\.kernel\.)|\.ko(?:\.[a-z]+)?$|(?:^|\/)vmlinux[\w.-]*$|^bpf_prog_|^\[bpf_prog\]$/;
const jitModule = /^\/tmp\/perf-\d+\.map$|\/jitted-\d+-\d+\.so$|^\[JIT\]/;

/**
 * Analysis view of where a frame runs. `[vdso]` is user code (unlike in inferno's `--kernel`
 * annotation); an `[unknown]` frame at a canonical kernel address is kernel code whose symbol
 * was hidden (kptr_restrict) or missing.
 */
export function frameKindOf(module: string, symbol: string, address: string): FrameKindCode {
  if (kernelModule.test(module)) return FrameKind.kernel;
  if (jitModule.test(module)) return FrameKind.jit;
  if (module === '[unknown]') {
    if (isKernelAddress(address)) return FrameKind.kernel;
    if (symbol === '[unknown]') return FrameKind.unknown;
  }
  return FrameKind.user;
}

/** x86-64 and arm64 kernel text lives in the top half: 16 hex digits starting with `ffff`. */
export function isKernelAddress(address: string): boolean {
  return address.length === 16 && address.startsWith('ffff');
}

const utf8Inlined = new TextEncoder().encode('inlined');

/** perf prints an inlined call as a frame whose module is `(inlined)`. */
export function isInlinedModule(buf: Uint8Array, s: number, e: number): boolean {
  if (e - s !== utf8Inlined.length) return false;
  for (let i = 0; i < utf8Inlined.length; i++) if (buf[s + i] !== utf8Inlined[i]) return false;
  return true;
}

/** A frame perf could not symbolise: `[unknown]`. */
const unknownSym = new TextEncoder().encode('[unknown]');
export function isUnknownSymbol(buf: Uint8Array, sp: FrameSpans): boolean {
  if (sp.symEnd - sp.symStart !== unknownSym.length) return false;
  for (let i = 0; i < unknownSym.length; i++) if (buf[sp.symStart + i] !== unknownSym[i]) return false;
  return true;
}
