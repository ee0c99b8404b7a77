/**
 * Dubbo's own protocol ("dubbo://"), as far as a call to a provider's MetadataService needs it:
 * one two-way request and its response, Hessian 2 serialized. Pure: bytes in, bytes or values out.
 *
 * The frame (apache/dubbo ExchangeCodec): a 16-byte header, magic 0xdabb, a flag byte (request
 * 0x80, two-way 0x40, event 0x20, serialization id in the low 5 bits: Hessian 2 is 2), a status
 * byte (responses: 20 is OK), the request id (8 bytes) and the body length (4 bytes), big-endian.
 * A request body (DubboCodec.encodeRequestData) is: the Dubbo version, the service path, the
 * service version, the method, the parameter types descriptor, the arguments and the
 * attachments, each a Hessian value. A response body starts with a flag (value, null value or
 * exception, with attachments or not) and the value.
 */
import { DecoderV2, EncoderV2 } from 'hessian.js';

export const HEADER_BYTES = 16;
const MAGIC = 0xdabb;
const FLAG_REQUEST = 0x80;
const FLAG_TWOWAY = 0x40;
const FLAG_EVENT = 0x20;
const HESSIAN2 = 2;
const STATUS_OK = 20;
const DUBBO_VERSION = '2.0.2';

export interface DubboRequest {
  id: bigint;
  service: string;
  version: string;
  method: string;
  /** JVM descriptors of the parameter types, such as "Ljava/lang/String;". */
  parameterTypes: string;
  args: readonly unknown[];
  attachments: Readonly<Record<string, string>>;
}

export function encodeRequest(r: DubboRequest): Buffer {
  const body = new EncoderV2();
  body.write(DUBBO_VERSION).write(r.service).write(r.version).write(r.method).write(r.parameterTypes);
  for (const a of r.args) body.write(a);
  body.write({ $class: 'java.util.HashMap', $: { ...r.attachments, path: r.service, interface: r.service, version: r.version, dubbo: DUBBO_VERSION } });
  const bytes = body.get();
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(MAGIC, 0);
  header[2] = FLAG_REQUEST | FLAG_TWOWAY | HESSIAN2;
  header.writeBigInt64BE(r.id, 4);
  header.writeInt32BE(bytes.length, 12);
  return Buffer.concat([header, bytes]);
}

export interface Frame {
  id: bigint;
  request: boolean;
  event: boolean;
  status: number;
  body: Buffer;
}

/**
 * The first whole frame in `buf` and the bytes after it; undefined when more bytes are needed;
 * an error when the bytes are not a Dubbo frame or announce a body larger than `maxBody`.
 */
export function readFrame(buf: Buffer, maxBody: number): { frame: Frame; rest: Buffer } | { error: string } | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  if (buf.readUInt16BE(0) !== MAGIC) return { error: 'not a Dubbo frame (bad magic)' };
  const length = buf.readInt32BE(12);
  if (length < 0 || length > maxBody) return { error: `a frame of ${length} bytes (at most ${maxBody})` };
  if (buf.length < HEADER_BYTES + length) return undefined;
  const flag = buf[2];
  return {
    frame: { id: buf.readBigInt64BE(4), request: (flag & FLAG_REQUEST) !== 0, event: (flag & FLAG_EVENT) !== 0, status: buf[3], body: buf.subarray(HEADER_BYTES, HEADER_BYTES + length) },
    rest: buf.subarray(HEADER_BYTES + length),
  };
}

const STATUS_TEXT: Record<number, string> = {
  30: 'client timeout',
  31: 'server timeout',
  40: 'bad request',
  50: 'bad response',
  60: 'service not found',
  70: 'service error',
  80: 'server error',
  90: 'client error',
  100: 'server thread pool exhausted',
};

/** The value of a response frame, or why there is none (a status, an exception, undecodable bytes). */
export function decodeResponse(frame: Frame): { value: unknown } | { error: string } {
  try {
    const d = new DecoderV2(frame.body);
    if (frame.status !== STATUS_OK) {
      const message = d.read();
      return { error: `${STATUS_TEXT[frame.status] ?? `status ${frame.status}`}: ${String(message).slice(0, 300)}` };
    }
    const flag = d.read();
    // 0 and 3: an exception; 1 and 4: a value; 2 and 5: null (3 to 5 carry attachments after it).
    if (flag === 1 || flag === 4) return { value: d.read() };
    if (flag === 2 || flag === 5) return { value: null };
    if (flag === 0 || flag === 3) {
      const t = d.read() as { detailMessage?: unknown; message?: unknown } | null;
      return { error: `the provider threw: ${String(t?.detailMessage ?? t?.message ?? 'an exception').slice(0, 300)}` };
    }
    return { error: `unknown response flag ${JSON.stringify(flag)}` };
  } catch (err) {
    return { error: `undecodable response: ${(err as Error).message.slice(0, 200)}` };
  }
}

/**
 * A MetadataInfo as Hessian decodes it ({app, revision, services: {matchKey: ServiceInfo}}) in
 * the JSON shape of the metadata report, so both go through the same parser (src/dubbo/instance.ts).
 */
export function metadataInfoJson(value: unknown): string | { error: string } {
  if (!value || typeof value !== 'object') return { error: 'the MetadataService answered no MetadataInfo' };
  const v = value as { app?: unknown; revision?: unknown; services?: unknown };
  const services: Record<string, unknown> = {};
  const raw = v.services instanceof Map ? Object.fromEntries(v.services) : v.services;
  if (!raw || typeof raw !== 'object') return { error: 'the MetadataInfo has no services' };
  for (const [key, s] of Object.entries(raw as Record<string, unknown>)) {
    if (!s || typeof s !== 'object') continue;
    const o = s as Record<string, unknown>;
    const params = o.params instanceof Map ? Object.fromEntries(o.params) : o.params;
    services[key] = { name: o.name, group: o.group, version: o.version, protocol: o.protocol, port: o.port, path: o.path, params };
  }
  return JSON.stringify({ app: v.app, revision: v.revision, services });
}
