/**
 * Interning of byte slices without decoding them: the perf script parser hashes the bytes of a
 * frame line and only decodes text the first time a frame is seen. Open addressing, linear
 * probing; keys are copied into one growing arena.
 */
export class ByteKeyTable {
  private slots: Int32Array; // value + 1, 0 = empty
  private hashes: Int32Array;
  private keyStart: Int32Array = new Int32Array(1024);
  private keyLength: Int32Array = new Int32Array(1024);
  /** Length of the first part of two-part keys, so ("ab","c") and ("a","bc") differ. */
  private keySplit: Int32Array = new Int32Array(1024);
  private arena: Uint8Array = new Uint8Array(1 << 16);
  private arenaView = new DataView(this.arena.buffer);
  private arenaUsed = 0;
  /** A view of the last buffer looked up in, for comparing four bytes at a time. */
  private lastBuf: Uint8Array | null = null;
  private lastView: DataView = this.arenaView;
  private count = 0;

  constructor(initialSlots = 1 << 12) {
    this.slots = new Int32Array(initialSlots);
    this.hashes = new Int32Array(initialSlots);
  }

  get size(): number {
    return this.count;
  }

  /** Returns the value stored for buf[start, end), or -1. */
  get(buf: Uint8Array, start: number, end: number, hash: number): number {
    return this.getTwo(buf, start, end, end, end, hash);
  }

  /** Stores buf[start, end) -> value (values are dense: 0, 1, 2, ... in insertion order). */
  add(buf: Uint8Array, start: number, end: number, hash: number): number {
    return this.addTwo(buf, start, end, end, end, hash);
  }

  /** Lookup of the key made of buf[s1, e1) followed by buf[s2, e2). */
  getTwo(buf: Uint8Array, s1: number, e1: number, s2: number, e2: number, hash: number): number {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const v = this.slots[slot];
      if (v === 0) return -1;
      if (this.hashes[slot] === hash && this.equals(v - 1, buf, s1, e1, s2, e2)) return v - 1;
      slot = (slot + 1) & mask;
    }
  }

  addTwo(buf: Uint8Array, s1: number, e1: number, s2: number, e2: number, hash: number): number {
    const value = this.count++;
    if (this.count * 2 > this.slots.length) this.grow();
    this.storeKey(value, buf, s1, e1, s2, e2);
    this.place(hash, value);
    return value;
  }

  private equals(value: number, buf: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
    const l1 = e1 - s1;
    if (this.keyLength[value] !== l1 + (e2 - s2) || this.keySplit[value] !== l1) return false;
    const a = this.arena;
    let k = this.keyStart[value];
    let i = s1;
    if (e1 - s1 >= 8) {
      // Frame lines are 40-200 bytes: words compare them 2x faster than bytes (npm run bench).
      if (buf !== this.lastBuf) {
        this.lastBuf = buf;
        this.lastView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      }
      const v = this.lastView;
      const av = this.arenaView;
      for (const last = e1 - 4; i <= last; i += 4, k += 4) if (av.getInt32(k) !== v.getInt32(i)) return false;
    }
    for (; i < e1; i++, k++) if (a[k] !== buf[i]) return false;
    for (let j = s2; j < e2; j++, k++) if (a[k] !== buf[j]) return false;
    return true;
  }

  private storeKey(value: number, buf: Uint8Array, s1: number, e1: number, s2: number, e2: number): void {
    const len = e1 - s1 + (e2 - s2);
    if (value >= this.keyStart.length) {
      this.keyStart = grownInt32(this.keyStart);
      this.keyLength = grownInt32(this.keyLength);
      this.keySplit = grownInt32(this.keySplit);
    }
    if (this.arenaUsed + len > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + len));
      a.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = a;
      this.arenaView = new DataView(a.buffer);
    }
    this.arena.set(buf.subarray(s1, e1), this.arenaUsed);
    this.arena.set(buf.subarray(s2, e2), this.arenaUsed + (e1 - s1));
    this.keyStart[value] = this.arenaUsed;
    this.keyLength[value] = len;
    this.keySplit[value] = e1 - s1;
    this.arenaUsed += len;
  }

  private place(hash: number, value: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = value + 1;
    this.hashes[slot] = hash;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    for (let i = 0; i < oldSlots.length; i++) {
      if (oldSlots[i] !== 0) this.place(oldHashes[i], oldSlots[i] - 1);
    }
  }
}

function grownInt32(a: Int32Array): Int32Array {
  const g = new Int32Array(a.length * 2);
  g.set(a);
  return g;
}

/** FNV-1a over buf[start, end), mixed with a seed so two fields can be chained. */
export function hashBytes(buf: Uint8Array, start: number, end: number, seed = 0x811c9dc5): number {
  let h = seed | 0;
  for (let i = start; i < end; i++) {
    h ^= buf[i];
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/**
 * Map from a pair of non-negative int32s to a dense int32 value; used for the stack prefix tree
 * (prefix, frame) -> stack. Avoids Map<number> keys above 2^31, which V8 stores as heap numbers.
 */
export class IntPairTable {
  private keysA: Int32Array;
  private keysB: Int32Array;
  private values: Int32Array; // value + 1, 0 = empty
  private count = 0;

  constructor(initialSlots = 1 << 12) {
    this.keysA = new Int32Array(initialSlots);
    this.keysB = new Int32Array(initialSlots);
    this.values = new Int32Array(initialSlots);
  }

  get(a: number, b: number): number {
    const mask = this.values.length - 1;
    let slot = pairHash(a, b) & mask;
    for (;;) {
      const v = this.values[slot];
      if (v === 0) return -1;
      if (this.keysA[slot] === a && this.keysB[slot] === b) return v - 1;
      slot = (slot + 1) & mask;
    }
  }

  set(a: number, b: number, value: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    this.count++;
    this.place(a, b, value);
  }

  private place(a: number, b: number, value: number): void {
    const mask = this.values.length - 1;
    let slot = pairHash(a, b) & mask;
    while (this.values[slot] !== 0) slot = (slot + 1) & mask;
    this.keysA[slot] = a;
    this.keysB[slot] = b;
    this.values[slot] = value + 1;
  }

  private grow(): void {
    const { keysA, keysB, values } = this;
    this.keysA = new Int32Array(values.length * 2);
    this.keysB = new Int32Array(values.length * 2);
    this.values = new Int32Array(values.length * 2);
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== 0) this.place(keysA[i], keysB[i], values[i] - 1);
    }
  }
}

function pairHash(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return h ^ (h >>> 13);
}

/**
 * Cheap hash for perf call chain lines, taken as the raw line: perf prints a tab, the address
 * right-aligned in 16 columns, then the symbol and module. The hash reads those 17 bytes (where
 * the address varies most), the length and the last eight bytes. Equal lines still get equal
 * hashes; the table compares whole keys.
 */
export function hashFrameLine(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  const a = Math.min(end, start + 17);
  for (let i = start + 1; i < a; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  for (let j = Math.max(a, end - 8); j < end; j++) h = Math.imul(h ^ buf[j], 0x01000193);
  return h;
}
