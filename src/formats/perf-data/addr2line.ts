/**
 * Source lines of code addresses through one binutils `addr2line` process per ELF file. The
 * file is passed as an already opened descriptor (`-e /dev/fd/3`), so addr2line reads exactly
 * the file crosstalk opened and checked, never a path someone could swap. No shell: arguments go
 * to spawn as an array, addresses after `--`.
 *
 * `addr2line -a -f -i -C -e FILE -- 0x1155 0x1050 0x1` (binutils 2.40) prints, per address, the
 * address, then one (function, file:line) pair per frame, innermost inlined frame first:
 *
 *   0x0000000000001155
 *   helper
 *   /tmp/t.c:4
 *   work
 *   /tmp/t.c:7 (discriminator 2)
 *   0x0000000000001050
 *   main
 *   /tmp/t.c:10
 *   0x0000000000000001
 *   ??
 *   ??:0
 *
 * Its output comes from the file's debug info: untrusted text, kept as plain strings that every
 * report escapes.
 */
import { spawn } from 'node:child_process';

export interface SourceFrame {
  function: string | null;
  file: string | null;
  line: number | null;
}

/** Output kept from one addr2line run: a few frames per address, a handful of addresses. */
const MAX_OUTPUT = 1 << 20;
/** Large debug info (a browser's) can take long; a report does not wait beyond this. */
const TIMEOUT_MS = 20_000;

export function addressArg(address: number): string {
  return `0x${address.toString(16)}`;
}

/** addr2line's echo of an address with -a: `0x` and 16 hex digits. */
function echoOf(address: number): string {
  return `0x${address.toString(16).padStart(16, '0')}`;
}

/** `file:line`, `file:line (discriminator N)`, `??:0`, `??:?`. */
function parseLocation(text: string): { file: string | null; line: number | null } {
  const t = text.replace(/ \(discriminator \d+\)$/, '');
  const colon = t.lastIndexOf(':');
  if (colon === -1) return { file: null, line: null };
  const file = t.slice(0, colon);
  const n = /^\d+$/.test(t.slice(colon + 1)) ? Number(t.slice(colon + 1)) : 0;
  return { file: file === '' || file === '??' ? null : file, line: n > 0 ? n : null };
}

/**
 * The frames of each address (innermost first), in the order the addresses were given; an
 * address addr2line printed nothing for gets an empty list. Output that does not follow the
 * format above gives empty lists from there on.
 */
export function parseAddr2line(text: string, addresses: readonly number[]): SourceFrame[][] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: SourceFrame[][] = addresses.map(() => []);
  let i = 0;
  for (let k = 0; k < addresses.length; k++) {
    if (lines[i] !== echoOf(addresses[k])) break;
    i++;
    // Pairs until the next address's echo (a function named like an address ends the list early:
    // the next address then finds no echo, and it and the rest get no frames).
    while (i + 1 < lines.length && !/^0x[0-9a-f]{16}$/.test(lines[i])) {
      const fn = lines[i];
      out[k].push({ function: fn === '??' ? null : fn, ...parseLocation(lines[i + 1]) });
      i += 2;
    }
  }
  return out;
}

/**
 * Runs addr2line on the ELF file open as `fd` for `addresses`; resolves to the parsed frames, or
 * to a reason string when addr2line could not run or failed.
 */
export function addr2line(
  fd: number,
  addresses: readonly number[],
  tool = 'addr2line',
): Promise<SourceFrame[][] | string> {
  return new Promise((resolve) => {
    const args = ['-a', '-f', '-i', '-C', '-e', '/dev/fd/3', '--', ...addresses.map(addressArg)];
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe', fd], timeout: TIMEOUT_MS });
    const chunks: Buffer[] = [];
    let size = 0;
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      if (size < MAX_OUTPUT) chunks.push(c);
      size += c.length;
    });
    child.stderr?.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve(e.code === 'ENOENT' ? `${tool} not installed (binutils)` : `${tool}: ${e.message}`),
    );
    child.on('close', (code, signal) => {
      if (code !== 0)
        return resolve(
          `${tool} ${signal ? `stopped by ${signal}` : `exited ${code}`}: ${err.split('\n')[0]}`,
        );
      resolve(parseAddr2line(Buffer.concat(chunks).toString('utf8').slice(0, MAX_OUTPUT), addresses));
    });
  });
}
