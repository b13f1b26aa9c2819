/**
 * Equality lookup for exact signal types (md5, sha256): a hash map from the
 * hash bytes to the ids of the signals that carry them.
 */
export class ExactHashIndex {
  private readonly owners = new Map<string, number[]>();
  private count = 0;

  constructor(readonly bytes: number) {}

  get size(): number {
    return this.count;
  }

  private key(code: Uint8Array): string {
    if (code.length !== this.bytes) throw new RangeError(`expected a ${this.bytes}-byte hash, got ${code.length} bytes`);
    // latin1 maps each byte to one UTF-16 unit: the shortest exact string key.
    return Buffer.from(code.buffer, code.byteOffset, code.length).toString('latin1');
  }

  add(code: Uint8Array, owner: number): void {
    const key = this.key(code);
    const list = this.owners.get(key);
    if (!list) this.owners.set(key, [owner]);
    else if (!list.includes(owner)) list.push(owner);
    else return;
    this.count++;
  }

  /** `codes` holds `owners.length` hashes of `bytes` bytes back to back. */
  addMany(codes: Uint8Array, owners: ArrayLike<number>): void {
    for (let i = 0; i < owners.length; i++) this.add(codes.subarray(i * this.bytes, (i + 1) * this.bytes), owners[i]);
  }

  remove(code: Uint8Array, owner: number): boolean {
    const key = this.key(code);
    const list = this.owners.get(key);
    const at = list ? list.indexOf(owner) : -1;
    if (!list || at < 0) return false;
    if (list.length === 1) this.owners.delete(key);
    else list.splice(at, 1);
    this.count--;
    return true;
  }

  /** Every entry: the hashes back to back and their owners (for addMany). */
  entries(): { codes: Uint8Array; owners: Uint32Array } {
    const codes = new Uint8Array(this.count * this.bytes);
    const owners = new Uint32Array(this.count);
    let at = 0;
    for (const [key, list] of this.owners) {
      for (const owner of list) {
        codes.set(Buffer.from(key, 'latin1'), at * this.bytes);
        owners[at++] = owner;
      }
    }
    return { codes, owners };
  }

  lookup(code: Uint8Array): readonly number[] {
    return this.owners.get(this.key(code)) ?? [];
  }
}
