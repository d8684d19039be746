/**
 * The byte-key table the perf script parser interns frame lines with: keys equal byte for byte
 * find their value, keys that differ in any byte (first, middle, a tail shorter than a word, or
 * the split of a two-part key) do not, including keys whose hashes are made to collide, and lookups
 * in buffers at odd offsets and across arena growth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteKeyTable, hashBytes } from '../src/model/byte-keys.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

/** `key` copied into a larger buffer at `offset`, as a line sits inside a read chunk. */
function inChunk(key: Uint8Array, offset: number): { buf: Uint8Array; start: number; end: number } {
  const backing = new Uint8Array(offset + key.length + 3).fill(0x2e);
  backing.set(key, offset);
  // A view that does not start at its ArrayBuffer's first byte, like a Buffer from a pool.
  const buf = backing.subarray(1);
  return { buf, start: offset - 1, end: offset - 1 + key.length };
}

describe('ByteKeyTable', () => {
  it('finds equal keys and no key that differs in one byte, wherever the byte is', () => {
    const t = new ByteKeyTable(8);
    const base = bytes('\t    ffffffff9a2b3c4d generic_fadvise+0x1a3 ([kernel.kallsyms])');
    const v = t.add(base, 0, base.length, 7);
    for (let at = 0; at < base.length; at++) {
      const changed = base.slice();
      changed[at] ^= 0x01;
      // Same hash on purpose: only the byte comparison can tell them apart.
      expect(t.get(changed, 0, changed.length, 7)).toBe(-1);
    }
    for (const offset of [1, 2, 3, 5, 8]) {
      const { buf, start, end } = inChunk(base, offset);
      expect(t.get(buf, start, end, 7)).toBe(v);
    }
    expect(t.get(base, 0, base.length - 1, 7)).toBe(-1);
  });

  it('tells two-part keys apart by where they split', () => {
    const t = new ByteKeyTable(8);
    const b = bytes('abcdefghijklmnop');
    const v = t.addTwo(b, 0, 9, 9, 16, 1);
    expect(t.getTwo(b, 0, 9, 9, 16, 1)).toBe(v);
    expect(t.getTwo(b, 0, 8, 8, 16, 1)).toBe(-1);
    expect(t.get(b, 0, 16, 1)).toBe(-1);
  });

  it('keeps every key of many, through growth, against a Map of strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 70 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 3 }),
        (keys, hashBits) => {
          const t = new ByteKeyTable(4);
          const want = new Map<string, number>();
          // Few hash bits: many collisions, so equality decides.
          const hash = (k: Uint8Array) => hashBytes(k, 0, k.length) & ((1 << hashBits) - 1);
          for (const k of keys) {
            const name = Buffer.from(k).toString('hex');
            const { buf, start, end } = inChunk(k, 1 + (k.length % 4));
            const got = t.get(buf, start, end, hash(k));
            if (want.has(name)) expect(got).toBe(want.get(name));
            else {
              expect(got).toBe(-1);
              want.set(name, t.add(buf, start, end, hash(k)));
            }
          }
          expect(t.size).toBe(want.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
