import { FramedMessage } from './framed';

/*
 * The one place that reaches into grpc-js's internals: @grpc/grpc-js is pinned to the minor
 * version this is checked against (package.json), dia_xds_framed_writes says whether it is in
 * place, and test/unit/xds-server.test.ts compares the bytes it writes with grpc-js's own.
 */

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
