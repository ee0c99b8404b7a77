import { createServer, type AddressInfo } from 'node:net';
import { metricValue, SE, sourceListing, WE, zkSource } from '../testbed/daemon';
import { dubbo3Fixture, znode } from '../testbed/config';
import { dubboMetadata, NacosServer, NacosWriter } from '../testbed/nacos-server';
import { sleep, waitFor } from '../testbed/net';
import { IstiodLikeClient } from '../testbed/xds-client';
import { suiteStack, withStack } from '../testbed/harness';

jest.setTimeout(180_000);

const nacosSource = (addr: string, extra: Record<string, unknown> = {}) => ({ name: 'nacos', type: 'nacos', nacos: { serverAddr: addr, pollMs: 300, ...extra } });
const svc = (iface: string, version = '', group = '') => `providers:${iface}:${version}:${group}`;
const addresses = (c: IstiodLikeClient) => [...c.resources(WE).values()].map((w) => `${w.spec.address}:${(w.spec.ports as Record<string, number>)['tcp-dubbo']}`).sort();

describe('Nacos source against a real Nacos server', () => {
  const stack = suiteStack();
  let nacos: NacosServer;
  let writer: NacosWriter;
  let admin: string;
  let client: IstiodLikeClient;

  beforeAll(async () => {
    nacos = await stack.nacos();
    writer = new NacosWriter(nacos.base);
    await writer.register({ service: svc('com.example.Greeter'), ip: '10.40.0.1', port: 20880, metadata: dubboMetadata('com.example.Greeter') });
    // A consumer registration, as Dubbo writes it: never a provider.
    await writer.register({ service: 'consumers:com.example.Greeter::', ip: '10.40.9.9', port: 1, metadata: { side: 'consumer', interface: 'com.example.Greeter' } });
    const started = await stack.daemon({ sources: [nacosSource(nacos.address)], protection: { massRemoval: { threshold: 0.5, minEndpoints: 100, holdMs: 0 } } });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
    await waitFor('initial sync', () => client.synced() && client.resources(WE).size === 1, 30000);
  });

  it('serves providers:* services and skips consumers:*', () => {
    expect(addresses(client)).toEqual(['10.40.0.1:20880']);
    expect([...client.resources(SE).values()].map((s) => s.spec.hosts)).toEqual([['com.example.greeter']]);
  });

  it('carries a registration, an update and a deregistration to the xDS client', async () => {
    const iface = 'com.example.Orders';
    await writer.register({ service: svc(iface, '1.0.0', 'g1'), ip: '10.40.1.1', port: 20880, metadata: dubboMetadata(iface, { version: '1.0.0', group: 'g1', env: 'blue' }) });
    await waitFor('registration', () => addresses(client).includes('10.40.1.1:20880'), 30000);
    const we = [...client.resources(WE).values()].find((w) => w.spec.address === '10.40.1.1')!;
    expect(we.spec.labels).toMatchObject({ env: 'blue', 'dubbo.version': '1.0.0', 'dubbo.group': 'g1' });
    expect([...client.resources(SE).values()].some((s) => (s.spec.hosts as string[])[0] === '1.0.0.g1.com.example.orders')).toBe(true);

    await writer.register({ service: svc(iface, '1.0.0', 'g1'), ip: '10.40.1.1', port: 20880, metadata: dubboMetadata(iface, { version: '1.0.0', group: 'g1', env: 'blue', weight: '40' }) });
    await waitFor('update', () => [...client.resources(WE).values()].find((w) => w.spec.address === '10.40.1.1')?.spec.weight === 40, 30000);

    await writer.register({ service: svc(iface, '1.0.0', 'g1'), ip: '10.40.1.2', port: 20880, metadata: dubboMetadata(iface, { version: '1.0.0', group: 'g1' }), enabled: false });
    await sleep(1000);
    expect(addresses(client)).not.toContain('10.40.1.2:20880'); // disabled in Nacos: not routable

    await writer.deregister({ service: svc(iface, '1.0.0', 'g1'), ip: '10.40.1.1', port: 20880 });
    await waitFor('deregistration', () => !addresses(client).includes('10.40.1.1:20880'), 30000);
  });

  it('skips a malformed metadata entry with a metric, and keeps the rest flowing', async () => {
    const before = await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos' });
    await writer.register({ service: svc('com.example.Broken'), ip: '10.40.2.1', port: 20880, metadata: dubboMetadata('com.example.Broken', { protocol: 'no such protocol' }) });
    await writer.register({ service: svc('com.example.Broken'), ip: '10.40.2.2', port: 20880, metadata: dubboMetadata('com.example.Broken') });
    await waitFor('the good instance next to the bad one', () => addresses(client).includes('10.40.2.2:20880'), 30000);
    expect(addresses(client)).not.toContain('10.40.2.1:20880');
    expect(await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos' })).toBe(before + 1);
  });

  it('reads only the namespaces and groups it is told to', () =>
    withStack(async (parts) => {
      await writer.register({ service: svc('com.example.Elsewhere'), ip: '10.40.3.1', port: 20880, metadata: dubboMetadata('com.example.Elsewhere'), group: 'TEAM_B' });
      await writer.register({ service: svc('com.example.Elsewhere'), ip: '10.40.3.2', port: 20880, metadata: dubboMetadata('com.example.Elsewhere'), namespace: 'ns-b', group: 'TEAM_B' });
      await writer.register({ service: svc('com.example.Elsewhere'), ip: '10.40.3.3', port: 20880, metadata: dubboMetadata('com.example.Elsewhere'), namespace: 'ns-c', group: 'TEAM_B' });
      await sleep(1500);
      expect(addresses(client).filter((a) => a.startsWith('10.40.3.'))).toEqual([]);
      const other = await parts.daemon({ sources: [nacosSource(nacos.address, { namespaces: ['', 'ns-b'], groups: ['TEAM_B'] })] });
      const c2 = parts.xdsClient(other.xdsAddress);
      await waitFor('group TEAM_B of the public namespace and ns-b', () => c2.synced() && addresses(c2).join() === '10.40.3.1:20880,10.40.3.2:20880', 30000);
    }));

  describe('Dubbo 3 application-level instances', () => {
    const fx = dubbo3Fixture();
    // Dubbo's Nacos service discovery registers the same instance record as in ZooKeeper: service
    // = application, metadata = the instance metadata; the metadata report and the mapping are
    // config items (dataId = application, group = revision; dataId = interface, group = mapping).
    const asNacos = (data: string) => {
      const i = JSON.parse(data) as { name: string; address: string; port: number; payload: { metadata: Record<string, string> } };
      return { service: i.name, ip: i.address, port: i.port, metadata: i.payload.metadata };
    };
    async function publishDocuments(nodes: Record<string, string>): Promise<void> {
      for (const [p, content] of Object.entries(nodes)) {
        const meta = /^\/dubbo\/metadata\/([^/]+)\/([^/]+)$/.exec(p);
        const map = /^\/dubbo\/mapping\/([^/]+)$/.exec(p);
        if (meta) await writer.publishConfig(meta[1], meta[2], content);
        if (map) await writer.publishConfig(map[1], 'mapping', content);
      }
    }
    const at = (ip: string) => [...client.resources(WE).values()].filter((w) => w.spec.address === ip);

    it('serves an instance once its metadata is in Nacos config, on each protocol port, and reports it until then', async () => {
      const rejected = await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos' });
      await writer.register(asNacos(fx.shop.applicationLevel['/services/shop-provider/10.20.0.1:20880']));
      await waitFor('reported: no metadata yet', async () => (await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos' })) > rejected, 30000);
      expect(at('10.20.0.1')).toEqual([]);
      await publishDocuments(fx.shop.applicationLevel);
      await waitFor('both services of the instance', () => at('10.20.0.1').length === 2, 30000);
      expect(
        at('10.20.0.1')
          .map((w) => Object.entries(w.spec.ports as Record<string, number>)[0].join('='))
          .sort(),
      ).toEqual(['grpc-tri=50051', 'tcp-dubbo=20880']);
      expect(at('10.20.0.1')[0].spec.labels).toMatchObject({ app: 'shop-provider', env: 'blue' });
    });

    it('counts a provider registered both ways once, and ignores services that are not Dubbo', async () => {
      const [, instance] = znode(fx.greetings.applicationLevel, '/services/');
      await publishDocuments(fx.greetings.applicationLevel);
      await writer.register(asNacos(instance));
      const iface = 'org.apache.dubbo.samples.api.GreetingsService';
      const [providerPath] = znode(fx.greetings.interfaceLevel, '/dubbo/');
      const url = new URL(decodeURIComponent(providerPath.split('/').pop()!));
      await writer.register({ service: svc(iface), ip: url.hostname, port: Number(url.port), metadata: Object.fromEntries(url.searchParams) });
      await writer.register({ service: 'spring-cloud-gateway', ip: '10.20.9.9', port: 8080, metadata: { 'preserved.register.source': 'SPRING_CLOUD' } });
      await waitFor('greetings served', () => at('30.221.146.35').length === 1, 30000);
      await sleep(1000);
      expect(at('30.221.146.35')).toHaveLength(1);
      expect(at('10.20.9.9')).toEqual([]);
      await writer.deregister({ service: svc(iface), ip: url.hostname, port: Number(url.port) });
      await sleep(1500);
      expect(at('30.221.146.35')).toHaveLength(1); // the application-level registration still holds it
    });
  });
});

/**
 * A Nacos server of its own, with instances on loopback addresses: Nacos restores persistent
 * instances from its storage before their service's health-checker setting (NONE), so in that
 * window it may health-check them once; a loopback address is the only kind it may dial. Each
 * instance is a listening socket, so that check passes, as it would for a live provider (a
 * failed one marked an instance unhealthy and withdrew it in one run).
 */
describe('Nacos restart', () => {
  it('keeps the endpoints through a Nacos restart, then resyncs', () =>
    withStack(async (parts) => {
      const nacos = await parts.nacos();
      const writer = new NacosWriter(nacos.base);
      const listen = (ip: string) =>
        new Promise<number>((resolve) => {
          const server = createServer((socket) => socket.destroy()).listen(0, ip, () => resolve((server.address() as AddressInfo).port));
          parts.own('listener', server, (s) => s.close());
        });
      const ports: Record<string, number> = {};
      for (const ip of ['127.40.5.1', '127.40.5.2']) {
        ports[ip] = await listen(ip);
        await writer.register({ service: svc('com.example.Survivor'), ip, port: ports[ip], metadata: dubboMetadata('com.example.Survivor') });
      }
      const { admin, xdsAddress } = await parts.daemon({ sources: [nacosSource(nacos.address)], protection: { massRemoval: { threshold: 0.5, minEndpoints: 100, holdMs: 0 } } });
      const client = parts.xdsClient(xdsAddress);
      await waitFor('initial sync', () => client.synced() && client.resources(WE).size === 2, 30000);
      const baseline = addresses(client);
      await nacos.stop();
      await waitFor('source stale', async () => (await sourceListing(admin, 'nacos')).state === 'stale', 15000);
      expect(await (await fetch(`${admin}/readyz`)).text()).toMatch(/degraded[\s\S]*source nacos is stale/);
      await sleep(1000);
      expect(addresses(client)).toEqual(baseline);
      await nacos.start();
      await waitFor('synced again', async () => (await sourceListing(admin, 'nacos')).state === 'synced', 60000);
      // Persistent instances come back from Nacos's storage; nothing was withdrawn meanwhile.
      expect(addresses(client)).toEqual(baseline);
      const port = await listen('127.40.5.3');
      await writer.register({ service: svc('com.example.AfterRestart'), ip: '127.40.5.3', port, metadata: dubboMetadata('com.example.AfterRestart') });
      await waitFor('changes flow after the restart', () => addresses(client).includes(`127.40.5.3:${port}`), 30000);
    }));
});

describe('Nacos with auth on', () => {
  const stack = suiteStack();
  let nacos: NacosServer;

  beforeAll(async () => {
    nacos = await stack.nacos({ auth: { adminPassword: 'Adm1n-pass' } });
    await new NacosWriter(nacos.base, { username: 'nacos', password: 'Adm1n-pass' }).register({
      service: svc('com.example.Secure'),
      ip: '10.41.0.1',
      port: 20880,
      metadata: dubboMetadata('com.example.Secure'),
    });
  });

  it('reads with a username and a password from the environment', () =>
    withStack(async (parts) => {
      process.env.TEST_NACOS_PASSWORD = 'Adm1n-pass';
      const d = await parts.daemon({ sources: [nacosSource(nacos.address, { auth: { username: 'nacos', passwordEnv: 'TEST_NACOS_PASSWORD' } })] });
      const c = parts.xdsClient(d.xdsAddress);
      await waitFor('secure provider', () => c.synced() && addresses(c).join() === '10.41.0.1:20880', 30000);
    }));

  it('reports refused credentials instead of serving an empty mesh', () =>
    withStack(async (parts) => {
      const d = await parts.daemon({ sources: [nacosSource(nacos.address, { auth: { username: 'nacos', password: 'wrong' } })] });
      await waitFor('failed', async () => (await sourceListing(d.admin, 'nacos')).state === 'failed', 30000);
      const ready = await fetch(`${d.admin}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain('Nacos refused our credentials');
    }));
});

describe('ZooKeeper and Nacos together', () => {
  it('merge one service key from both into one endpoint set, without duplicates', () =>
    withStack(async (parts) => {
      const zk = await parts.zookeeper();
      const nacos = await parts.nacos();
      const zkw = await parts.zkWriter(zk.connect);
      const nw = new NacosWriter(nacos.base);
      const iface = 'com.example.Migrating';
      const url = (ip: string) => `dubbo://${ip}:20880/${iface}?application=demo&interface=${iface}&side=provider&timestamp=1700000000000`;
      // 10.42.0.1 is registered in both (dual registration during a migration).
      await zkw.register(url('10.42.0.1'));
      await zkw.register(url('10.42.0.2'));
      await nw.register({ service: svc(iface), ip: '10.42.0.1', port: 20880, metadata: dubboMetadata(iface) });
      await nw.register({ service: svc(iface), ip: '10.42.0.3', port: 20880, metadata: dubboMetadata(iface) });
      const d = await parts.daemon({ sources: [zkSource(zk.connect), nacosSource(nacos.address)] });
      const c = parts.xdsClient(d.xdsAddress);
      await waitFor('merged', () => c.synced() && addresses(c).length === 3, 30000);
      expect(addresses(c)).toEqual(['10.42.0.1:20880', '10.42.0.2:20880', '10.42.0.3:20880']);
      expect(c.resources(SE).size).toBe(1);
      // Gone from ZooKeeper but still in Nacos: it stays.
      await zkw.unregister(url('10.42.0.1'));
      await sleep(1500);
      expect(addresses(c)).toContain('10.42.0.1:20880');
    }));
});
