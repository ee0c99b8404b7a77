import { createHash } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { fixtureProviderEntries } from '../testbed/config';
import { debugSources, metricValue, minWorkloadsSince, SE, sourceListing, WE, zkRuleSource, zkSource } from '../testbed/daemon';
import { sleep, waitFor } from '../testbed/net';
import { DeltaClient, IstiodLikeClient } from '../testbed/xds-client';
import { TcpProxy } from '../testbed/tcp-proxy';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack, withStack } from '../testbed/harness';

jest.setTimeout(120_000);

const fixtures = fixtureProviderEntries().map((e) => decodeURIComponent(e));
const provider = (ip: string, iface = 'org.apache.dubbo.demo.GreetingService', extra = '') =>
  `dubbo://${ip}:20880/${iface}?application=greeting&dubbo=2.0.2&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;

describe('ZooKeeper source against a real ZooKeeper', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let xdsAddress: string;
  let admin: string;
  let client: IstiodLikeClient;
  let proxy: TcpProxy;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    proxy = stack.own('tcp proxy', await new TcpProxy(zk.port).start(), (p) => p.stop());
    writer = await stack.zkWriter(zk.connect);
    for (const url of fixtures) await writer.register(url, { ephemeral: false });
    const started = await stack.daemon({
      sources: [zkSource(proxy.address)],
      // The same ZooKeeper as config center, as most estates have it.
      rules: { sources: [zkRuleSource(zk.connect)] },
      protection: { massRemoval: { threshold: 0.5, minEndpoints: 3, holdMs: 0 } },
      render: { emptyServiceGraceMs: 3000 },
    });
    xdsAddress = started.xdsAddress;
    admin = started.admin;
    client = stack.xdsClient(xdsAddress);
    await waitFor('istiod-like client synced with the fixtures', () => client.synced() && client.resources(WE).size === fixtures.length);
  });

  it('serves every fixture provider as a WorkloadEntry selected by its ServiceEntry', () => {
    const ses = client.resources(SE);
    expect([...ses.keys()].sort()).toEqual(['dubbo/com-alibaba-dubbo-demo-demoservice', 'dubbo/com-hcw-api-qsearchservice', 'dubbo/org-apache-dubbo-demo-demoservice']);
    const se = ses.get('dubbo/com-alibaba-dubbo-demo-demoservice')!;
    expect(se.spec).toMatchObject({ hosts: ['com.alibaba.dubbo.demo.demoservice'], location: 'MESH_INTERNAL', resolution: 'STATIC' });
    const selector = (se.spec.workloadSelector as { labels: Record<string, string> }).labels;
    const members = [...client.resources(WE).values()].filter((w) => Object.entries(selector).every(([k, v]) => (w.spec.labels as Record<string, string>)[k] === v));
    expect(members.map((w) => `${w.spec.address}:${(w.spec.ports as Record<string, number>)['tcp-dubbo']}`).sort()).toEqual(['172.16.104.22:20880', '172.16.104.22:20881']);
    expect(se.createTime!.seconds).toBe(Math.floor(1495781812400 / 1000));
  });

  it('picks up a new interface, providers that come, change and go, and an interface that goes', async () => {
    const a = provider('10.1.0.1');
    const b = provider('10.1.0.2');
    await writer.register(a);
    await writer.register(b);
    const host = 'dubbo/org-apache-dubbo-demo-greetingservice';
    await waitFor('new interface', () => client.resources(SE).has(host) && client.resources(WE).size === fixtures.length + 2);

    await writer.unregister(b);
    await writer.register(provider('10.1.0.2', undefined, '&weight=10'));
    await waitFor('changed weight', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.1.0.2' && w.spec.weight === 10));

    await writer.unregister(a);
    await waitFor('one gone', () => ![...client.resources(WE).values()].some((w) => w.spec.address === '10.1.0.1'));

    await writer.removeRecursive('/dubbo/org.apache.dubbo.demo.GreetingService');
    await waitFor('interface gone: endpoints first', () => ![...client.resources(WE).values()].some((w) => w.spec.address === '10.1.0.2'));
    expect(client.resources(SE).has(host)).toBe(true); // kept with zero endpoints during its grace period
    await waitFor('then the ServiceEntry after the grace period', () => !client.resources(SE).has(host), 10000);
  });

  it('skips a malformed znode with a metric, and keeps everything else flowing', async () => {
    const before = await metricValue(admin, 'dia_rejected_inputs_total', { source: 'zk' });
    await writer.mkdirp('/dubbo/com.example.Broken/providers');
    await writer.create('/dubbo/com.example.Broken/providers/not%20a%20url');
    await writer.register(provider('10.2.0.1', 'com.example.Broken'));
    await waitFor('the good provider next to the bad one', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.2.0.1'));
    expect(await metricValue(admin, 'dia_rejected_inputs_total', { source: 'zk' })).toBe(before + 1);
    await writer.removeRecursive('/dubbo/com.example.Broken');
    await waitFor('cleanup', () => ![...client.resources(WE).values()].some((w) => w.spec.address === '10.2.0.1'));
  });

  it('streams Delta ADS: a wildcard subscriber gets adds, changes and removals as deltas', async () => {
    const delta = new DeltaClient(xdsAddress).connect();
    try {
      delta.subscribe(WE);
      await waitFor('delta initial state', () => (delta.resources.get(WE)?.size ?? 0) === client.resources(WE).size);
      const a = provider('10.5.0.1', 'com.example.Delta');
      await writer.register(a);
      const named = () => [...(delta.resources.get(WE) ?? new Map()).entries()].find(([, r]) => r.object.spec.address === '10.5.0.1');
      await waitFor('add arrives', () => named() !== undefined);
      const [name, first] = named()!;
      const sent = delta.responses.length;

      await writer.unregister(a);
      await writer.register(provider('10.5.0.1', 'com.example.Delta', '&weight=40'));
      await waitFor('change arrives', () => named()?.[1].object.spec.weight === 40);
      expect(named()![1].version).not.toBe(first.version);
      // Only the changed object travels, not the whole set.
      const changes = delta.responses.slice(sent).filter((r) => r.typeUrl === WE && r.names.length > 0);
      expect(changes.every((r) => r.names.length === 1 && r.names[0] === name)).toBe(true);

      const beforeRemoval = delta.responses.length;
      await writer.removeRecursive('/dubbo/com.example.Delta');
      await waitFor('removal arrives', () => delta.responses.slice(beforeRemoval).some((r) => r.removed.includes(name)));
      expect(named()).toBeUndefined();
    } finally {
      delta.close();
    }
  });

  it('survives a forced session expiry: stale, new session, full resync, no empty push', async () => {
    const baseline = client.resources(WE).size;
    const oldSession = (await sourceListing(admin, 'zk')).details.sessionId;
    expect(oldSession).toBeDefined();
    const resyncs = await metricValue(admin, 'dia_source_resyncs_total', { source: 'zk' });
    // A partition longer than the session timeout: the server expires the session meanwhile.
    await proxy.cut();
    await waitFor('source stale', async () => (await sourceListing(admin, 'zk')).state === 'stale', 15000);
    // While the session is gone, the registry changes: the resync must find it.
    await writer.register(provider('10.3.0.1', 'com.example.Expiry'));
    await sleep(4000 + 2000);
    expect(client.resources(WE).size).toBe(baseline);
    await proxy.heal();
    await waitFor(
      'new session',
      async () => {
        const zk = await sourceListing(admin, 'zk');
        return zk.details.sessionId !== undefined && zk.details.sessionId !== oldSession && zk.state === 'synced';
      },
      30000,
    );
    await waitFor('change made during expiry arrives', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.3.0.1'));
    expect(await metricValue(admin, 'dia_source_resyncs_total', { source: 'zk' })).toBeGreaterThan(resyncs);
    expect(minWorkloadsSince(client, baseline)).toBeGreaterThanOrEqual(baseline);
    await writer.removeRecursive('/dubbo/com.example.Expiry');
    await waitFor('cleanup', () => client.resources(WE).size === baseline);
  });

  it('survives a ZooKeeper restart: stays served while down, resyncs after', async () => {
    const baseline = client.resources(WE).size;
    await writer.close();
    await zk.stop();
    await waitFor('source stale', async () => (await sourceListing(admin, 'zk')).state === 'stale', 15000);
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(200); // still serving the last good state
    expect(await ready.text()).toMatch(/degraded[\s\S]*source zk is stale/);
    await sleep(500);
    expect(client.resources(WE).size).toBe(baseline);
    await zk.start();
    writer = await stack.zkWriter(zk.connect);
    await waitFor('synced again', async () => (await sourceListing(admin, 'zk')).state === 'synced', 30000);
    await writer.register(provider('10.4.0.1', 'com.example.AfterRestart'));
    await waitFor('watches work after restart', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.4.0.1'));
    expect(minWorkloadsSince(client, baseline)).toBeGreaterThanOrEqual(baseline);
    await writer.removeRecursive('/dubbo/com.example.AfterRestart');
    await waitFor('cleanup', () => client.resources(WE).size === baseline);
  });

  it('notices a ZooKeeper that answers nothing (SIGSTOP): stale and degraded while serving the last state, re-listed when it answers again', async () => {
    const baseline = client.resources(WE).size;
    zk.pause();
    try {
      // The source's session timeout is 4 s: well within 15 s it has gone a whole timeout unanswered.
      await waitFor('source stale', async () => (await sourceListing(admin, 'zk')).state === 'stale', 15000);
      // The config center on the same server goes stale too; both keep what they last read (the
      // reason says whether the silence or a lost connection was noticed first).
      await waitFor(
        'rule source stale',
        async () => {
          const body = await (await fetch(`${admin}/readyz`)).text();
          if (!/rule source zk-rules is stale: /.test(body)) throw new Error(body);
          return true;
        },
        15000,
      );
      expect(await (await fetch(`${admin}/readyz`)).text()).toMatch(/degraded[\s\S]*source zk is stale/);
      expect(client.resources(WE).size).toBe(baseline);
    } finally {
      zk.resume();
    }
    await waitFor('rule source synced again', async () => !/rule source zk-rules/.test(await (await fetch(`${admin}/readyz`)).text()), 30000);
    await waitFor('synced again', async () => (await sourceListing(admin, 'zk')).state === 'synced', 30000);
    await writer.register(provider('10.4.0.2', 'com.example.AfterPause'));
    await waitFor('watches work after the pause', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.4.0.2'));
    await writer.removeRecursive('/dubbo/com.example.AfterPause');
    await waitFor('cleanup', () => client.resources(WE).size === baseline);
  });

  it('holds back the wipe when ZooKeeper comes back empty, until an operator confirms', async () => {
    const baseline = client.resources(WE).size;
    expect(baseline).toBeGreaterThanOrEqual(3);
    await writer.close();
    await zk.restart({ wipe: true });
    writer = await stack.zkWriter(zk.connect);
    await waitFor('removal held', async () => (await debugSources(admin)).heldRemovals.length === 1, 30000);
    await sleep(300);
    expect(client.resources(WE).size).toBe(baseline);
    const ready = await (await fetch(`${admin}/readyz`)).text();
    expect(ready).toContain(`${baseline} of ${baseline} endpoints would be removed at once`);
    expect(await metricValue(admin, 'dia_held_removals', { source: 'zk' })).toBe(baseline);
    expect(minWorkloadsSince(client, baseline)).toBe(baseline);

    const confirm = await fetch(`${admin}/admin/confirm-removals?source=zk`, { method: 'POST' });
    expect(confirm.status).toBe(200);
    await waitFor('removal applied after confirmation', () => client.resources(WE).size === 0);
    expect(client.resources(SE).size).toBeGreaterThan(0); // services in grace, not yet removed
  });
});

describe('1,000 providers arriving at once', () => {
  it('all reach the xDS client', () =>
    withStack(async (parts) => {
      const zk = await parts.zookeeper();
      const writer = await parts.zkWriter(zk.connect);
      const { xdsAddress } = await parts.daemon({ sources: [zkSource(zk.connect)] });
      const client = parts.xdsClient(xdsAddress);
      await waitFor('empty sync', () => client.synced());
      const paths: string[] = [];
      for (let s = 0; s < 50; s++) {
        const iface = `com.example.bulk.Service${s}`;
        paths.push(`/dubbo/${iface}`, `/dubbo/${iface}/providers`);
        for (let p = 0; p < 20; p++) paths.push(`/dubbo/${iface}/providers/${encodeURIComponent(provider(`10.20.${s}.${p + 1}`, iface, `&env=${p % 2 ? 'blue' : 'green'}`))}`);
      }
      await writer.mkdirp('/dubbo');
      await writer.createMany(paths);
      await waitFor('1,000 WorkloadEntries', () => client.resources(WE).size === 1000, 60000);
      expect(client.resources(SE).size).toBe(50);
    }));
});

describe('ZooKeeper connection options', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  const digestId = (user: string, pw: string) => `${user}:${createHash('sha1').update(`${user}:${pw}`).digest('base64')}`;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect, { auth: 'dubbo:s3cret' });
    const acl = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', digestId('dubbo', 's3cret')))];
    await writer.mkdirp('/tenant-a/dubbo/com.example.Secure/providers', acl);
    await writer.create(`/tenant-a/dubbo/com.example.Secure/providers/${encodeURIComponent(provider('10.30.0.1', 'com.example.Secure'))}`, zookeeper.CreateMode.PERSISTENT, acl);
  });

  it('reads through a chroot with digest credentials, from a connect string with a dead server in it', () =>
    withStack(async (parts) => {
      const deadPort = 1; // nothing listens there: the client must move on to the next server
      process.env.TEST_ZK_DIGEST = 'dubbo:s3cret';
      const { xdsAddress } = await parts.daemon({
        sources: [zkSource(`127.0.0.1:${deadPort},${zk.connect}/tenant-a`, { auth: { scheme: 'digest', credentialsEnv: 'TEST_ZK_DIGEST' } })],
      });
      const client = parts.xdsClient(xdsAddress);
      await waitFor('the secured provider', () => [...client.resources(WE).values()].some((w) => w.spec.address === '10.30.0.1'), 30000);
    }));

  it('reports missing credentials instead of serving an empty mesh', () =>
    withStack(async (parts) => {
      const { admin, xdsAddress } = await parts.daemon({ sources: [zkSource(`${zk.connect}/tenant-a`)] });
      const client = parts.xdsClient(xdsAddress);
      await waitFor(
        'not ready, with the reason',
        async () => {
          const r = await fetch(`${admin}/readyz`);
          return r.status === 503 && /source zk has not synced yet.*(NO_AUTH|NoAuth)/i.test(await r.text());
        },
        20000,
      );
      expect(client.state.has(WE)).toBe(false); // istiod is not answered for our types: nothing is wiped
      expect(client.state.has('core/v1alpha1/MeshConfig')).toBe(true);
    }));
});
