/**
 * Last line of defence for terminals: when stdout or stderr is a TTY, every write is filtered so
 * that only crosstalk's own terminal codes (SGR colours `ESC[...m`, erase-line `ESC[K`, and
 * `\n`, `\r`, `\t`) reach it. Any other control character, C1 code, line separator or bidi
 * override is shown as a visible escape, as safeText does; renderers still escape profile text
 * themselves, this catches a path that forgot to (issue 16: `diff --folded` once did).
 * Output to pipes and files is untouched (byte-exact machine formats).
 */
import { StringDecoder } from 'node:string_decoder';
import { CONTROL_CHARS, visibleEscape } from './safe-text.ts';

const pattern = new RegExp(`\\u001b\\[[0-9;]*[mK]|[\\n\\r\\t]|([${CONTROL_CHARS}])`, 'g');

/** `s` with every control character outside crosstalk's own codes escaped. */
export function ttySafe(s: string): string {
  return s.replace(pattern, (m: string, bad: string | undefined) =>
    bad === undefined ? m : visibleEscape(bad),
  );
}

type Write = NodeJS.WriteStream['write'];

/** Filters `stream` through ttySafe when it is a terminal. Idempotent. */
export function guardTerminal(stream: NodeJS.WriteStream): void {
  if (stream.isTTY !== true || (stream as { ttyGuarded?: boolean }).ttyGuarded) return;
  (stream as { ttyGuarded?: boolean }).ttyGuarded = true;
  const original = stream.write.bind(stream) as (chunk: string, cb?: (e?: Error | null) => void) => boolean;
  const decoder = new StringDecoder('utf8');
  const guarded = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const done = typeof encoding === 'function' ? encoding : cb;
    const text =
      typeof chunk === 'string'
        ? chunk
        : decoder.write(
            Buffer.from(
              (chunk as Uint8Array).buffer,
              (chunk as Uint8Array).byteOffset,
              (chunk as Uint8Array).byteLength,
            ),
          );
    return original(ttySafe(text), done as ((e?: Error | null) => void) | undefined);
  };
  stream.write = guarded as Write;
}
