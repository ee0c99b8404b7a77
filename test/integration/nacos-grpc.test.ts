import path from 'node:path';
import { debugSources, metricValue, WE } from '../testbed/daemon';
import { dubbo3Fixture, ordersSplitPolicy } from '../testbed/config';
import { dubboMetadata, NacosServer, NacosWriter } from '../testbed/nacos-server';
import { freePort, sleep, waitFor } from '../testbed/net';
import { TcpProxy } from '../testbed/tcp-proxy';
import { IstiodLikeClient } from '../testbed/xds-client';
import { suiteStack, withStack } from '../testbed/harness';

jest.setTimeout(180_000);

/*
 * The Nacos source over gRPC (transport: grpc) against a real Nacos 3.1: pushes, fuzzy watch,
 * its refusal, a cut connection, and the fallback to HTTP. Polling is set to ten minutes and the
 * safety-net re-list off wherever a test shows that a change came by push.
 */
const svc = (iface: string, version = '', group = '') => `providers:${iface}:${version}:${group}`;
const addresses = (c: IstiodLikeClient) => [...c.resources(WE).values()].map((w) => `${w.spec.address}:${(w.spec.ports as Record<string, number>)['tcp-dubbo']}`).sort();
const NO_POLL = { pollMs: 600_000, resyncMs: 0 };

describe('Nacos over gRPC: pushes and fuzzy watch', () => {
  const stack = suiteStack();
  let nacos: NacosServer;
  let writer: NacosWriter;
  let admin: string;
  let client: IstiodLikeClient;

  beforeAll(async () => {
    nacos = await stack.nacos();
    writer = new NacosWriter(nacos.base);
    await writer.register({ service: svc('com.example.Push'), ip: '10.41.0.1', port: 20880, metadata: dubboMetadata('com.example.Push') });
    const started = await stack.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, ...NO_POLL } }] });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
    await waitFor('initial sync', () => client.synced() && addresses(client).length === 1, 30000);
  });

  it('watches the group with fuzzy watch and subscribes to its services', async () => {
    const [s] = (await debugSources(admin)).sources;
    expect(s.state).toBe('synced');
    expect(s.details.transport).toBe('grpc');
    expect(s.details.grpc).toEqual([expect.objectContaining({ namespace: 'public', connected: true, subscriptions: 1, fuzzyWatch: ['DEFAULT_GROUP'] })]);
    expect(await metricValue(admin, 'dia_nacos_subscriptions', { source: 'nacos' })).toBe(1);
  });

  it('carries a new service, an instance change and a deregistration by push, with no poll', async () => {
    const pushes = await metricValue(admin, 'dia_nacos_pushes_total', { source: 'nacos' });
    const t0 = Date.now();
    await writer.register({ service: svc('com.example.New'), ip: '10.41.1.1', port: 20880, metadata: dubboMetadata('com.example.New') });
    await waitFor('a new service, found by fuzzy watch', () => addresses(client).includes('10.41.1.1:20880'), 20000, 20);
    const newService = Date.now() - t0;

    const t1 = Date.now();
    await writer.register({ service: svc('com.example.Push'), ip: '10.41.0.2', port: 20880, metadata: dubboMetadata('com.example.Push') });
    await waitFor('a second instance, pushed', () => addresses(client).includes('10.41.0.2:20880'), 20000, 20);
    const instance = Date.now() - t1;

    await writer.deregister({ service: svc('com.example.Push'), ip: '10.41.0.1', port: 20880 });
    await waitFor('a deregistration, pushed', () => !addresses(client).includes('10.41.0.1:20880'), 20000, 20);
    expect(await metricValue(admin, 'dia_nacos_pushes_total', { source: 'nacos' })).toBeGreaterThan(pushes);
    expect(await metricValue(admin, 'dia_nacos_push_apply_seconds_count', { source: 'nacos' })).toBeGreaterThan(0);
    // Nacos delays a push by up to about a second to batch changes; polling is ten minutes away.
    console.log(`Nacos gRPC: new service reached the xDS client in ${newService} ms, a new instance in ${instance} ms`);
  });
});

describe('Nacos over gRPC: Dubbo 3 metadata published after its instances', () => {
  it('reads the metadata as soon as Nacos says it is published (a config listener), with no poll and no instance push', () =>
    withStack(async (parts) => {
      const fx = dubbo3Fixture();
      const nacos = await parts.nacos();
      const writer = new NacosWriter(nacos.base);
      const started = await parts.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, ...NO_POLL } }] });
      const client = parts.xdsClient(started.xdsAddress);
      const at = (ip: string) => [...client.resources(WE).values()].filter((w) => w.spec.address === ip);
      await waitFor('initial sync', () => client.synced(), 30000);
      const i = JSON.parse(fx.shop.applicationLevel['/services/shop-provider/10.20.0.1:20880']) as { name: string; address: string; port: number; payload: { metadata: Record<string, string> } };
      await writer.register({ service: i.name, ip: i.address, port: i.port, metadata: i.payload.metadata });
      await sleep(2000); // the instance is known, its metadata is not: nothing is served for it
      expect(at('10.20.0.1')).toEqual([]);
      for (const [p, content] of Object.entries(fx.shop.applicationLevel)) {
        const meta = /^\/dubbo\/metadata\/([^/]+)\/([^/]+)$/.exec(p);
        const map = /^\/dubbo\/mapping\/([^/]+)$/.exec(p);
        if (meta) await writer.publishConfig(meta[1], meta[2], content);
        if (map) await writer.publishConfig(map[1], 'mapping', content);
      }
      const t0 = Date.now();
      await waitFor('both services of the instance, once its metadata is readable', () => at('10.20.0.1').length === 2, 20000, 20);
      console.log(`Nacos gRPC: metadata published after its instance served it in ${Date.now() - t0} ms`);
    }));
});

describe('Nacos over gRPC: fuzzy watch refused', () => {
  it('finds new services by listing them every pollMs when Nacos refuses the fuzzy watch', () =>
    withStack(async (parts) => {
      // More services than one pattern may match (here 1) make Nacos refuse the watch, as on a
      // large estate with the default limit of 500; Nacos 2 has no fuzzy watch at all.
      const nacos = await parts.nacos({ properties: { 'nacos.naming.fuzzy.watch.max.pattern.match.service.count': '1' } });
      const writer = new NacosWriter(nacos.base);
      await writer.register({ service: svc('com.example.One'), ip: '10.42.0.1', port: 20880, metadata: dubboMetadata('com.example.One') });
      await writer.register({ service: svc('com.example.Two'), ip: '10.42.0.2', port: 20880, metadata: dubboMetadata('com.example.Two') });
      const started = await parts.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, pollMs: 500, resyncMs: 0 } }] });
      const client = parts.xdsClient(started.xdsAddress);
      await waitFor('initial sync', () => client.synced() && addresses(client).length === 2, 30000);
      const [s] = (await debugSources(started.admin)).sources;
      expect(s.details.grpc).toEqual([
        expect.objectContaining({ fuzzyWatch: [], listed: { DEFAULT_GROUP: expect.stringMatching(/more services than the server lets one fuzzy watch pattern match/) } }),
      ]);
      await writer.register({ service: svc('com.example.Three'), ip: '10.42.0.3', port: 20880, metadata: dubboMetadata('com.example.Three') });
      await waitFor('a new service, found by the service list', () => addresses(client).includes('10.42.0.3:20880'), 20000);
      // Its instances come by push once subscribed.
      await writer.register({ service: svc('com.example.Three'), ip: '10.42.0.4', port: 20880, metadata: dubboMetadata('com.example.Three') });
      await waitFor('an instance of it', () => addresses(client).includes('10.42.0.4:20880'), 20000);
    }));
});

describe('Nacos over gRPC: a cut connection and the fallback to HTTP', () => {
  const stack = suiteStack();
  let nacos: NacosServer;
  let writer: NacosWriter;

  beforeAll(async () => {
    nacos = await stack.nacos();
    writer = new NacosWriter(nacos.base);
    await writer.register({ service: svc('com.example.Cut'), ip: '10.43.0.1', port: 20880, metadata: dubboMetadata('com.example.Cut') });
  });

  it('keeps the last state while the gRPC connection is cut, then resubscribes and applies only the difference', () =>
    withStack(async (parts) => {
      // The gRPC port is reached through a relay; HTTP (config) directly.
      const relay = parts.own('relay', await new TcpProxy(nacos.port + 1000).start(), (r) => r.stop());
      const started = await parts.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, grpcPortOffset: relay.port - nacos.port, ...NO_POLL } }] });
      const client = parts.xdsClient(started.xdsAddress);
      await waitFor('initial sync', () => client.synced() && addresses(client).includes('10.43.0.1:20880'), 30000);
      await relay.cut();
      await waitFor('stale', async () => (await debugSources(started.admin)).sources[0].state === 'stale', 20000);
      await writer.register({ service: svc('com.example.Cut'), ip: '10.43.0.2', port: 20880, metadata: dubboMetadata('com.example.Cut') });
      await writer.deregister({ service: svc('com.example.Cut'), ip: '10.43.0.1', port: 20880 });
      await sleep(1500);
      expect(addresses(client)).toContain('10.43.0.1:20880'); // the last state stays served
      const reconnects = await metricValue(started.admin, 'dia_nacos_reconnects_total', { source: 'nacos' });
      await relay.heal();
      await waitFor('resubscribed: the change made while cut', () => addresses(client).join() === '10.43.0.2:20880', 40000);
      expect((await debugSources(started.admin)).sources[0].state).toBe('synced');
      expect(await metricValue(started.admin, 'dia_nacos_reconnects_total', { source: 'nacos' })).toBe(reconnects + 1);
    }));

  it('falls back to polling over HTTP, logged, when the gRPC port refuses and HTTP answers', () =>
    withStack(async (parts) => {
      const closed = await freePort(); // nothing listens there
      const started = await parts.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, grpcPortOffset: closed - nacos.port, pollMs: 300 } }] });
      const client = parts.xdsClient(started.xdsAddress);
      await waitFor('synced over HTTP', () => client.synced() && addresses(client).length > 0, 30000);
      const [s] = (await debugSources(started.admin)).sources;
      expect(s.state).toBe('synced');
      expect(s.details).toMatchObject({ transport: 'http', fallback: expect.stringContaining(`gRPC refused`) });
      await writer.register({ service: svc('com.example.Polled'), ip: '10.43.1.1', port: 20880, metadata: dubboMetadata('com.example.Polled') });
      await waitFor('a registration, polled', () => addresses(client).includes('10.43.1.1:20880'), 20000);
    }));

  it('polls over HTTP when told to (transport: http)', () =>
    withStack(async (parts) => {
      const started = await parts.daemon({ sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, transport: 'http', pollMs: 300 } }] });
      const client = parts.xdsClient(started.xdsAddress);
      await waitFor('synced over HTTP', () => client.synced() && addresses(client).length > 0, 30000);
      const [s] = (await debugSources(started.admin)).sources;
      expect(s.details).toMatchObject({ transport: 'http' });
      expect(s.details.grpc).toBeUndefined();
      await writer.register({ service: svc('com.example.Polled2'), ip: '10.43.2.1', port: 20880, metadata: dubboMetadata('com.example.Polled2') });
      await waitFor('a registration, polled', () => addresses(client).includes('10.43.2.1:20880'), 20000);
    }));
});

describe('Nacos over gRPC: rules from Nacos config', () => {
  it('applies a change to a rule document as Nacos pushes it, with no poll', () =>
    withStack(async (parts) => {
      const VS = 'networking.istio.io/v1/VirtualService';
      const policy = ordersSplitPolicy;
      const nacos = await parts.nacos();
      const writer = new NacosWriter(nacos.base);
      await writer.publishConfig('orders', 'dubbo-istio-adapter', policy(90));
      const started = await parts.daemon({
        sources: [{ name: 'file', type: 'file', file: { path: path.resolve(__dirname, '../../config/providers.yaml'), pollMs: 200 } }],
        rules: { sources: [{ name: 'nacos-rules', type: 'nacos', nacos: { serverAddr: nacos.address, ...NO_POLL } }] },
      });
      const client = parts.xdsClient(started.xdsAddress);
      const weights = () => {
        const vs = [...client.resources(VS).values()][0];
        return ((vs?.spec.tcp as { route: { destination: { subset: string }; weight: number }[] }[] | undefined) ?? [])[0]?.route.map((r) => `${r.destination.subset}=${r.weight}`).join() ?? '';
      };
      await waitFor('the policy from Nacos', () => weights() === 'env-blue=90,env-green=10', 60000);
      await sleep(1000); // listened to once read
      const t0 = Date.now();
      await writer.publishConfig('orders', 'dubbo-istio-adapter', policy(30));
      await waitFor('the changed policy, pushed', () => weights() === 'env-blue=30,env-green=70', 20000, 20);
      console.log(`Nacos gRPC: a rule change reached the xDS client in ${Date.now() - t0} ms`);
    }));
});
