/**
 * A gRPC message with its 5-byte frame header (compressed flag, big-endian length) already in
 * front, so one Buffer can be written as it is to every stream.
 *
 * Why: grpc-js frames each message by allocating length + 5 bytes and copying the message in,
 * per stream. At 200,000 providers a state-of-the-world response is about 29 MB, and those copies
 * (external memory to V8) set off a full mark-compact of the daemon's heap on every change
 * (--trace-gc: 250–380 ms of marking per change with one client). `installFramedWrites` lets
 * grpc-js's server write a FramedMessage without that copy; if grpc-js's internals ever change,
 * it is not installed and the ADS serializer hands grpc-js the plain message instead, so the
 * bytes on the wire are the same either way, only slower.
 */
export class FramedMessage {
  private writes = 0;
  private retired = false;

  constructor(
    readonly bytes: Buffer,
    /** Where the memory goes back to once no write needs it; only for large messages. */
    private pool?: BufferPool,
    private readonly backing?: Buffer,
  ) {}

  /** The message without its frame header: what grpc-js's own framing takes. */
  get message(): Buffer {
    return this.bytes.subarray(5);
  }

  get length(): number {
    return this.bytes.length - 5;
  }

  /**
   * A write of these bytes starts; call the returned function with the write's outcome. Only a
   * write that completed without error releases the memory: after an error the transport may
   * still hold it, and the garbage collector is the safe owner.
   */
  writing(): (err?: unknown) => void {
    this.writes++;
    return (err) => {
      if (err) {
        this.pool = undefined;
        return;
      }
      this.writes--;
      this.recycle();
    };
  }

  /** Nothing will start a new write of this message: its memory is reused once the last write is done. */
  retire(): void {
    this.retired = true;
    this.recycle();
  }

  private recycle(): void {
    if (!this.retired || this.writes > 0 || !this.pool || !this.backing) return;
    this.pool.put(this.backing);
    this.pool = undefined;
  }
}

/**
 * Memory for large responses, reused from one version to the next. At L a state-of-the-world
 * response is about 29 MB; allocating it fresh for every change cost more than filling it
 * (page faults, and external-memory pressure that set off garbage collections).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly keep = 4,
    /** Smaller messages are allocated as they come: pooling them gains nothing. */
    readonly minBytes = 1 << 20,
  ) {}

  take(bytes: number): Buffer | undefined {
    // A buffer much larger than needed would pin memory a shrunken estate no longer uses.
    const i = this.free.findIndex((b) => b.length >= bytes && b.length <= bytes * 1.5);
    return i < 0 ? undefined : this.free.splice(i, 1)[0];
  }

  put(b: Buffer): void {
    this.free.push(b);
    if (this.free.length > this.keep) this.free.sort((x, y) => y.length - x.length).pop();
  }

  get size(): number {
    return this.free.length;
  }
}

/**
 * Frames the concatenation of `parts` in one allocation outside Node's shared pool, or in pooled
 * memory when the message is large. Pooled memory comes with headroom so the next, slightly
 * larger, version still fits.
 */
export function frame(parts: readonly Uint8Array[], pool?: BufferPool): FramedMessage {
  let size = 0;
  for (const p of parts) size += p.length;
  const pooled = pool && size >= pool.minBytes;
  const backing = (pooled && pool.take(size + 5)) || Buffer.allocUnsafeSlow(pooled ? Math.ceil((size + 5) * 1.1) : size + 5);
  const out = backing.subarray(0, size + 5);
  out[0] = 0; // not compressed
  out.writeUInt32BE(size, 1);
  let at = 5;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return pooled ? new FramedMessage(out, pool, backing) : new FramedMessage(out);
}
