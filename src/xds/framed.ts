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
  constructor(readonly bytes: Buffer) {}

  /** The message without its frame header: what grpc-js's own framing takes. */
  get message(): Buffer {
    return this.bytes.subarray(5);
  }

  get length(): number {
    return this.bytes.length - 5;
  }
}

/** Frames the concatenation of `parts` in one allocation, outside Node's shared pool. */
export function frame(parts: readonly Uint8Array[]): FramedMessage {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = Buffer.allocUnsafeSlow(size + 5);
  out[0] = 0; // not compressed
  out.writeUInt32BE(size, 1);
  let at = 5;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new FramedMessage(out);
}

type SerializeMessage = (this: unknown, value: unknown) => Buffer;
const PATCHED = Symbol.for('dubbo-istio-adapter.framedWrites');

/**
 * Teaches grpc-js's server call (BaseServerInterceptingCall.serializeMessage, a private method of
 * @grpc/grpc-js 1.10 to 1.14) to write a FramedMessage's bytes as they are. Returns whether it is
 * in place; idempotent.
 */
export function installFramedWrites(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@grpc/grpc-js/build/src/server-interceptors') as { BaseServerInterceptingCall?: { prototype: Record<string | symbol, unknown> } };
    const proto = mod.BaseServerInterceptingCall?.prototype;
    if (!proto || typeof proto.serializeMessage !== 'function') return false;
    if (!proto[PATCHED]) {
      const original = proto.serializeMessage as SerializeMessage;
      proto.serializeMessage = function (this: unknown, value: unknown): Buffer {
        return value instanceof FramedMessage ? value.bytes : original.call(this, value);
      };
      proto[PATCHED] = true;
    }
    return true;
  } catch {
    return false;
  }
}
