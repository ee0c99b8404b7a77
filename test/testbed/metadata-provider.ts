/**
 * A stand-in for a provider's MetadataService on loopback, answering each Dubbo request as
 * `answer` says: a real Dubbo answer frame, garbage, or nothing. Real Dubbo providers answer in
 * the suites with test/servers/dubbo; this one misbehaves on purpose.
 */
import net from 'node:net';
import { DecoderV2, EncoderV2 } from 'hessian.js';
import { HEADER_BYTES, readFrame } from '../../src/registry/dubbo-codec';

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

/** What a getMetadataInfo request asks: the revision, and the application (the service group). */
export interface MetadataQuestion {
  revision: string;
  group: string;
}

export interface FakeMetadataService {
  port: number;
  requests: number;
  /** What the next requests get. */
  answer: (id: bigint, question: MetadataQuestion) => Buffer | undefined;
  close(): void;
}

export async function fakeMetadataService(answer: FakeMetadataService['answer']): Promise<FakeMetadataService> {
  const server = net.createServer((s) => {
    s.on('data', (b: Buffer) => {
      state.requests++;
      const r = readFrame(b, 1 << 20);
      if (!r || 'error' in r) return void s.destroy();
      // The body: Dubbo version, path, version, method, types, the revision, the attachments.
      const d = new DecoderV2(r.frame.body);
      for (let i = 0; i < 5; i++) d.read();
      const revision = String(d.read());
      const group = String((d.read() as Record<string, unknown>).group ?? '');
      const out = state.answer(r.frame.id, { revision, group });
      if (out) s.write(out);
    });
    s.on('error', () => {});
  });
  const state: FakeMetadataService = { port: 0, requests: 0, answer, close: () => server.close() };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/**
 * An instance record laid out as Dubbo 3.3's ZookeeperServiceDiscovery writes it, on Dubbo's
 * default metadata (storage-type local: no report; its MetadataService at `metadataPort`).
 */
export function localMetadataInstance(app: string, address: string, port: number, revision: string, metadataPort: number): string {
  const metadata = {
    'dubbo.endpoints': JSON.stringify([{ port, protocol: 'dubbo' }]),
    'dubbo.metadata-service.url-params': JSON.stringify({
      'prefer.serialization': 'hessian2,fastjson2',
      version: '1.0.0',
      dubbo: '2.0.2',
      release: '3.3.5',
      side: 'provider',
      port: String(metadataPort),
      protocol: 'dubbo',
    }),
    'dubbo.metadata.revision': revision,
    'dubbo.metadata.storage-type': 'local',
    'meta-v': '1.0.0',
    timestamp: '1764800000000',
  };
  const id = `${address}:${port}`;
  return JSON.stringify({
    name: app,
    id,
    address,
    port,
    sslPort: null,
    payload: { '@class': 'org.apache.dubbo.registry.zookeeper.ZookeeperInstance', id, name: app, metadata },
    registrationTimeUTC: 1764800000500,
    serviceType: 'DYNAMIC',
    uriSpec: null,
  });
}

/** The same MetadataInfo as the metadata report holds it (JSON), for an estate that reports it. */
export function metadataReportJson(app: string, revision: string, services: string[], port = 20880): string {
  const entries: Record<string, unknown> = {};
  for (const s of services) {
    const [name, version] = s.split(':');
    entries[`${name}:${version}:dubbo`] = { name, group: '', version, protocol: 'dubbo', port, path: name, params: { application: app, side: 'provider' } };
  }
  return JSON.stringify({ app, revision, services: entries });
}
