/** Index into a profile's string table. */
export type StringIndex = number;

/** Append-only interned strings: every name in a profile is stored once and referred to by index. */
export class StringTable {
  readonly strings: string[] = [];
  private readonly index = new Map<string, StringIndex>();

  intern(s: string): StringIndex {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }

  get(i: StringIndex): string {
    return this.strings[i];
  }
}
