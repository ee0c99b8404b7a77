import { createHash } from 'node:crypto';

/** Short, stable content hash (hex). Same input, same output, in any process. */
export function contentHash(data: string | Buffer, length = 16): string {
  return createHash('sha256').update(data).digest('hex').slice(0, length);
}

/** JSON with object keys sorted at every level, so equal values always serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * An order-independent digest of a set of (name, version) pairs that can be updated one element
 * at a time: XOR of a 64-bit hash per element. Lets a type's version follow a change in O(1).
 */
export class SetDigest {
  private hi = 0;
  private lo = 0;

  toggle(name: string, version: string): void {
    const h = createHash('sha1').update(name).update('\0').update(version).digest();
    this.hi = (this.hi ^ h.readUInt32BE(0)) >>> 0;
    this.lo = (this.lo ^ h.readUInt32BE(4)) >>> 0;
  }

  clone(): SetDigest {
    const d = new SetDigest();
    d.hi = this.hi;
    d.lo = this.lo;
    return d;
  }

  value(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

const interned = new Map<string, string>();

/**
 * One shared, self-contained copy of a string value. Values parsed out of a provider URL are
 * slices of the whole URL and keep all of it alive; the estate repeats the same interface names,
 * versions and label values across thousands of endpoints. Bounded: the table is dropped when
 * it grows past 200,000 distinct values (copies stay valid, only sharing restarts).
 */
export function intern(s: string): string {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size >= 200_000) interned.clear();
  const own = ownString(s);
  interned.set(own, own);
  return own;
}

const records = new Map<string, object>();

/**
 * One shared, frozen copy of a small flat record (labels, a locality, a service key, a port map).
 * At 200,000 providers the estate has a few thousand distinct label sets, and one object per
 * endpoint per layer was most of the heap (bench/profile.ts at L: 13 objects per provider).
 * Frozen, so a caller that tried to change a shared record would fail loudly rather than change
 * every endpoint that shares it. Bounded like `intern`.
 */
export function shareRecord<T extends Record<string, string | number | undefined>>(r: T): Readonly<T> {
  let key = '';
  for (const k in r) key += `${k}\u0000${r[k]}\u0001`;
  return sharedRecord<T>(key) ?? keepShared(key, r);
}

/**
 * The shared record kept under `key`, if any. With keepShared, for callers that can say what a
 * record will hold more cheaply than shareRecord can read it back (the parser, per URL), and
 * build it only on a miss. Keys of different shapes must not collide: prefix them.
 */
export function sharedRecord<T extends object>(key: string): Readonly<T> | undefined {
  return records.get(key) as T | undefined;
}

export function keepShared<T extends object>(key: string, r: T): Readonly<T> {
  if (records.size >= 200_000) records.clear();
  records.set(key, Object.freeze(r));
  return r;
}

/** A string that does not keep a larger one alive (V8 copies slices shorter than 13 by itself). */
export function ownString(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}
