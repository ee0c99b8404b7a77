/**
 * A stand-in for a provider's MetadataService on loopback, answering each Dubbo request as
 * `answer` says: a real Dubbo answer frame, garbage, or nothing. Real Dubbo providers answer in
 * the suites with test/servers/dubbo; this one misbehaves on purpose.
 */
import net from 'node:net';
import { EncoderV2 } from 'hessian.js';
import { HEADER_BYTES } from '../../src/registry/dubbo-codec';

/** A response frame as a Dubbo provider writes it (DubboCodec.encodeResponseData). */
export function dubboResponse(id: bigint, values: unknown[], status = 20): Buffer {
  const e = new EncoderV2();
  for (const v of values) e.write(v);
  const body = e.get();
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = 2;
  h[3] = status;
  h.writeBigInt64BE(id, 4);
  h.writeInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

/** MetadataInfo of one application's revision exporting `services` (interface:version), as Hessian carries it. */
export function metadataInfo(app: string, revision: string, services: string[], port = 20880): unknown {
  const entries: Record<string, unknown> = {};
  for (const s of services) {
    const [name, version] = s.split(':');
    entries[`${name}:${version}:dubbo`] = {
      $class: 'org.apache.dubbo.metadata.MetadataInfo$ServiceInfo',
      $: { name, group: '', version, protocol: 'dubbo', port, path: name, params: { $class: 'java.util.HashMap', $: { application: app, side: 'provider' } } },
    };
  }
  return { $class: 'org.apache.dubbo.metadata.MetadataInfo', $: { app, revision, services: { $class: 'java.util.concurrent.ConcurrentSkipListMap', $: entries } } };
}

/** A successful getMetadataInfo answer (value with attachments). */
export const metadataAnswer = (id: bigint, info: unknown): Buffer => dubboResponse(id, [4, info, { $class: 'java.util.HashMap', $: {} }]);

export interface FakeMetadataService {
  port: number;
  requests: number;
  /** What the next requests get. */
  answer: (id: bigint) => Buffer | undefined;
  close(): void;
}

export async function fakeMetadataService(answer: (id: bigint) => Buffer | undefined): Promise<FakeMetadataService> {
  const server = net.createServer((s) => {
    s.on('data', (b: Buffer) => {
      state.requests++;
      const out = state.answer(b.readBigInt64BE(4));
      if (out) s.write(out);
    });
    s.on('error', () => {});
  });
  const state: FakeMetadataService = { port: 0, requests: 0, answer, close: () => server.close() };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}
