import * as grpc from '@grpc/grpc-js';
import { nacosProtoRoot } from '../../src/common/proto';
import { NacosGrpcConnection, NacosGrpcError, type NacosGrpcOptions } from '../../src/registry/nacos-grpc';
import { waitFor } from '../testbed/net';

/*
 * The Nacos gRPC client against an in-process stand-in for Nacos's client port: the envelope,
 * the order of the handshake, push answers by requestId, junk on the stream, error answers and
 * reconnection. The real Nacos 3.1 is in test/integration/nacos-grpc.test.ts.
 */
const Payload = nacosProtoRoot.lookupType('Payload');
type Message = { type: string; headers: Record<string, string>; body: Record<string, unknown> };
const encode = (type: string, body: unknown): Buffer =>
  Buffer.from(Payload.encode(Payload.fromObject({ metadata: { type }, body: { value: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) } })).finish());
const decode = (b: Buffer): Message => {
  const p = Payload.decode(b) as unknown as { metadata: { type: string; headers?: Record<string, string> }; body: { value: Uint8Array } };
  return { type: p.metadata.type, headers: p.metadata.headers ?? {}, body: JSON.parse(Buffer.from(p.body.value).toString()) as Record<string, unknown> };
};

class FakeNacos {
  readonly server = new grpc.Server();
  port = 0;
  readonly unary: Message[] = [];
  readonly fromStream: Message[] = [];
  streams: grpc.ServerDuplexStream<Buffer, Buffer>[] = [];
  /** The answer to a unary request (after the server check). */
  answer: (m: Message) => unknown = () => ({ resultCode: 200 });

  async start(): Promise<this> {
    const id = (b: Buffer) => b;
    this.server.addService(
      {
        request: { path: '/Request/request', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
        requestBiStream: {
          path: '/BiRequestStream/requestBiStream',
          requestStream: true,
          responseStream: true,
          requestSerialize: id,
          requestDeserialize: id,
          responseSerialize: id,
          responseDeserialize: id,
        },
      },
      {
        request: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const m = decode(call.request);
          this.unary.push(m);
          if (m.type === 'ServerCheckRequest') return cb(null, encode('ServerCheckResponse', { resultCode: 200, connectionId: `c${this.unary.length}`, supportAbilityNegotiation: true }));
          const a = this.answer(m) as Record<string, unknown>;
          cb(null, encode(a.resultCode === 200 ? m.type.replace(/Request$/, 'Response') : 'ErrorResponse', a));
        },
        requestBiStream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          this.streams.push(call);
          call.on('data', (b: Buffer) => {
            const m = decode(b);
            this.fromStream.push(m);
            if (m.type === 'ConnectionSetupRequest') call.write(encode('SetupAckRequest', { abilityTable: {}, requestId: '' }));
          });
          call.on('error', () => undefined);
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) => this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    return this;
  }

  get stream(): grpc.ServerDuplexStream<Buffer, Buffer> {
    return this.streams[this.streams.length - 1];
  }

  push(type: string, body: unknown): void {
    this.stream.write(encode(type, body));
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

describe('Nacos gRPC connection', () => {
  let nacos: FakeNacos;
  let conn: NacosGrpcConnection;
  const events: string[] = [];
  const pushes: { type: string; body: Record<string, unknown> }[] = [];
  let bad = 0;

  beforeEach(async () => {
    nacos = await new FakeNacos().start();
    events.length = 0;
    pushes.length = 0;
    bad = 0;
    const opts: NacosGrpcOptions = {
      name: 'test',
      // The HTTP port; the gRPC port is 1000 above it, as in Nacos.
      servers: [`127.0.0.1:${nacos.port - 1000}`],
      portOffset: 1000,
      module: 'naming',
      namespace: 'ns-a',
      timeoutMs: 2000,
      maxMessageBytes: 1 << 20,
      headers: async (type) => ({ accessToken: `token-for-${type}` }),
      onPush: (type, body) => {
        pushes.push({ type, body });
        return type === 'NotifySubscriberRequest' ? 'NotifySubscriberResponse' : undefined;
      },
      onBadPush: () => bad++,
      onConnected: () => events.push('connected'),
      onDisconnected: (reason) => events.push(`disconnected: ${reason}`),
    };
    conn = new NacosGrpcConnection(opts);
    conn.start();
    await waitFor('connected', () => conn.connected, 10000);
  });

  afterEach(() => {
    conn.close();
    nacos.stop();
  });

  it('checks the server, then sets up the stream with its labels and tenant, then sends requests with their headers', async () => {
    expect(nacos.unary[0].type).toBe('ServerCheckRequest');
    expect(nacos.fromStream[0]).toMatchObject({ type: 'ConnectionSetupRequest', body: { tenant: 'ns-a', labels: { source: 'sdk', module: 'naming' } } });
    nacos.answer = (m) => ({ resultCode: 200, count: 1, serviceNames: ['s'], echo: m.body.pageNo });
    const r = await conn.request('ServiceListRequest', { pageNo: 3 });
    expect(r).toMatchObject({ serviceNames: ['s'], echo: 3 });
    expect(nacos.unary.at(-1)).toMatchObject({ type: 'ServiceListRequest', headers: { accessToken: 'token-for-ServiceListRequest' } });
    expect(events).toEqual(['connected']);
  });

  it('answers every push on the stream with its requestId, and an unknown one with an error', async () => {
    nacos.push('NotifySubscriberRequest', { requestId: '7', serviceInfo: { name: 's', hosts: [] } });
    nacos.push('ClientDetectionRequest', { requestId: '8' });
    nacos.push('SomethingNewRequest', { requestId: '9' });
    await waitFor('three answers', () => nacos.fromStream.length === 4, 5000);
    expect(nacos.fromStream.slice(1).map((m) => [m.type, m.body.requestId, m.body.resultCode])).toEqual([
      ['NotifySubscriberResponse', '7', 200],
      ['ClientDetectionResponse', '8', 200],
      ['ErrorResponse', '9', 500],
    ]);
    expect(pushes.map((p) => p.type)).toEqual(['NotifySubscriberRequest', 'SomethingNewRequest']);
    expect(bad).toBe(1); // the one not understood
  });

  it('ignores junk on the stream and keeps the connection', async () => {
    nacos.push('NotifySubscriberRequest', 'not json {');
    nacos.stream.write(Buffer.from([0xff, 0xff, 0xff]));
    nacos.push('NotifySubscriberRequest', { requestId: '10', serviceInfo: { name: 's', hosts: [] } });
    await waitFor('the good push answered', () => nacos.fromStream.some((m) => m.body.requestId === '10'), 5000);
    expect(conn.connected).toBe(true);
    expect(events).toEqual(['connected']);
    expect(bad).toBe(2); // counted, for a metric
  });

  it('throws an error answer with its code, and sets up a new connection when Nacos no longer knows this one', async () => {
    nacos.answer = () => ({ resultCode: 500, errorCode: 302, message: 'RequestHandler Not Found' });
    await expect(conn.request('NamingFuzzyWatchRequest', {})).rejects.toMatchObject({ errorCode: 302 });
    await expect(conn.request('NamingFuzzyWatchRequest', {})).rejects.toBeInstanceOf(NacosGrpcError);
    nacos.answer = () => ({ resultCode: 500, errorCode: 301, message: 'Connection is unregistered.' });
    await expect(conn.request('ServiceListRequest', {})).rejects.toMatchObject({ errorCode: 301 });
    nacos.answer = () => ({ resultCode: 200 });
    await waitFor('connected again', () => events.length === 3, 10000);
    expect(events[1]).toMatch(/disconnected: Nacos no longer knows the connection/);
    expect(events[2]).toBe('connected');
    expect(nacos.unary.filter((m) => m.type === 'ServerCheckRequest')).toHaveLength(2);
  });

  it('connects again when the server ends the stream or asks for a reset', async () => {
    nacos.stream.end();
    await waitFor('connected again', () => events.length === 3, 10000);
    expect(events[1]).toMatch(/disconnected/);
    nacos.push('ConnectResetRequest', { requestId: '11' });
    await waitFor('connected a third time', () => events.length === 5, 10000);
    expect(nacos.fromStream.some((m) => m.type === 'ConnectResetResponse' && m.body.requestId === '11')).toBe(true);
  });
});
