/** Growable typed-array columns for builders; `finish()` trims to length. */
export class Int32Column {
  private data = new Int32Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }

  at(i: number): number {
    return this.data[i];
  }

  finish(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

export class Float64Column {
  private data = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }

  finish(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

export class Uint8Column {
  private data = new Uint8Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Uint8Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }

  at(i: number): number {
    return this.data[i];
  }

  finish(): Uint8Array {
    return this.data.slice(0, this.length);
  }
}
