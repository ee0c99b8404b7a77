import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type protobuf from 'protobufjs';
import type { ClusterConfig, XdsConfig } from '../config/types';
import type { Stream } from './connection';
import { FramedMessage } from './framed';
import { DeltaDiscoveryRequest, DiscoveryRequest, type DeltaDiscoveryRequestMsg, type DiscoveryRequestMsg } from './proto';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';

/**
 * Responses are pre-encoded and pre-framed (shared resource bytes + header), so the serializer
 * only unwraps them: an unchanged resource is never encoded again, whatever the number of
 * clients. With framed writes installed, grpc-js does not even call it (grpc-framed-writes.ts).
 */
const unwrap = (m: FramedMessage | Buffer): Buffer => (m instanceof FramedMessage ? m.message : m);

/** One of the two ADS methods: a request stream decoded with `Request`, a stream of framed responses. */
const adsMethod = (name: string, Request: protobuf.Type) => ({
  path: ADS + name,
  requestStream: true,
  responseStream: true,
  requestSerialize: (m: object) => Buffer.from(Request.encode(Request.fromObject(m)).finish()),
  requestDeserialize: (b: Buffer) => Request.toObject(Request.decode(b), { defaults: false }),
  responseSerialize: unwrap,
  responseDeserialize: (b: Buffer) => b,
});

const adsService: grpc.ServiceDefinition = {
  StreamAggregatedResources: adsMethod('StreamAggregatedResources', DiscoveryRequest),
  DeltaAggregatedResources: adsMethod('DeltaAggregatedResources', DeltaDiscoveryRequest),
};

export interface AdsHandlers {
  sotw(call: Stream<DiscoveryRequestMsg>): void;
  delta(call: Stream<DeltaDiscoveryRequestMsg>): void;
}

/**
 * The ADS listener of one cluster view: its address, TLS, keepalive and request size limit.
 * Resolves with the server and the port it bound (the config may ask for port 0).
 */
export async function listen(c: ClusterConfig, cfg: XdsConfig, handlers: AdsHandlers): Promise<{ server: grpc.Server; port: number; address: string }> {
  const server = new grpc.Server({
    // Checked on each message's length prefix, before it is read: a larger request ends its stream.
    'grpc.max_receive_message_length': cfg.limits.maxRequestBytes,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_time_ms': cfg.keepalive.timeMs,
    'grpc.keepalive_timeout_ms': cfg.keepalive.timeoutMs,
  });
  server.addService(adsService, { StreamAggregatedResources: handlers.sotw, DeltaAggregatedResources: handlers.delta });
  const creds = c.listener.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(c.listener.tls.certFile), private_key: readFileSync(c.listener.tls.keyFile) }], false)
    : grpc.ServerCredentials.createInsecure();
  const address = `${c.listener.address.includes(':') ? `[${c.listener.address}]` : c.listener.address}:${c.listener.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, creds, (err, p) => (err ? reject(new Error(`cannot listen on ${address} for cluster ${c.name}: ${err.message}`)) : resolve(p))),
  );
  return { server, port, address };
}

/** Closes a listener: gracefully within graceMs, then by force. */
export function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
