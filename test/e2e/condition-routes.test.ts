/**
 * Condition routes as Dubbo chains them, read from a real ZooKeeper config center, through a real
 * istiod, seen by two sidecars: one of the consumer application `bops` (workload label app=bops)
 * and one of any other application. Each sees the providers its outbound listener leads to.
 */
import type { Daemon } from '../../src/daemon';
import { zkRuleSource, zkSource } from '../testbed/daemon';
import { EnvoyProbe } from '../testbed/envoy-probe';
import { converged } from '../testbed/expect-istio';
import { Istiod } from '../testbed/istiod';
import { waitFor } from '../testbed/net';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(180_000);

const provider = (ip: string, iface: string, extra: string) => `dubbo://${ip}:20880/${iface}?application=warehouse&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;
const INVENTORY = 'com.example.InventoryService';
const STOCK = 'com.example.StockService';
const SERVICE_RULE = `/dubbo/config/dubbo/${INVENTORY}.condition-router`;
const CONSUMER_RULE = '/dubbo/config/dubbo/bops.condition-router';

/** The providers (last octets) a probe's outbound listener for `host` leads to, or undefined before it has one. */
function reached(probe: EnvoyProbe, host: string): string | undefined {
  for (const targets of probe.tcpTargets.values()) {
    for (const t of targets) {
      if (!('cluster' in t) || !t.cluster.endsWith(`|${host}`)) continue;
      const eps = probe.endpointsOf(t.cluster);
      return eps?.map((e) => e.address.split('.').pop()).join(',');
    }
  }
  return undefined;
}

describe('condition routes in a real istiod: a chain, and a rule keyed by the consumer application', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let daemon: Daemon;
  let istiod: Istiod;
  let anyone: EnvoyProbe;
  let bops: EnvoyProbe;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    for (const url of [
      provider('10.12.0.1', INVENTORY, '&env=blue'),
      provider('10.12.0.2', INVENTORY, '&env=green'),
      provider('10.12.0.3', INVENTORY, '&env=blue'),
      provider('10.12.1.11', STOCK, '&env=blue'),
      provider('10.12.1.12', STOCK, '&env=green'),
    ]) {
      await writer.register(url, { ephemeral: false });
    }
    // Dubbo chains these: every consumer loses 10.12.0.3, then bops keeps the blue ones of the rest.
    // As first-match routes, the match-all first would have shadowed the bops route.
    await writer.put(SERVICE_RULE, `configVersion: v3.0\nscope: service\nkey: ${INVENTORY}\nforce: false\nconditions:\n  - "=> host != 10.12.0.3"\n  - "application = bops => env = blue"\n`);
    // Keyed by the consumer application: bops calls green providers wherever there are any.
    await writer.put(CONSUMER_RULE, 'configVersion: v3.0\nscope: application\nkey: bops\nforce: false\nconditions:\n  - "=> env = green"\n');
    const started = await stack.daemon({
      sources: [zkSource(zk.connect)],
      rules: { sources: [zkRuleSource(zk.connect)] },
      render: { endpointMode: 'inline' },
    });
    daemon = started.daemon;
    istiod = await stack.istiod({ configSources: [`xds://${started.xdsAddress}`] });
    anyone = stack.probe(istiod, { listeners: true });
    bops = stack.own('probe', new EnvoyProbe(istiod.xdsAddress, 'sidecar~10.0.0.8~bops-1.default~default.svc.cluster.local', { app: 'bops' }), (p) => p.close()).connect({ listeners: true });
    await converged(istiod, anyone, daemon);
  });

  it('sends each consumer to the providers the whole chain leaves it', async () => {
    await waitFor('both sidecars routed', () => reached(anyone, 'com.example.inventoryservice') === '1,2' && reached(bops, 'com.example.inventoryservice') !== undefined, 30000);
    // Any other application: 10.12.0.3 is filtered out by the first condition.
    expect(reached(anyone, 'com.example.inventoryservice')).toBe('1,2');
    // bops: then the blue ones; its own rule finds no green provider left and, not forced, keeps them.
    expect(reached(bops, 'com.example.inventoryservice')).toBe('1');
  });

  it("applies the consumer application's rule to every service that application calls", async () => {
    await waitFor('stock routed', () => reached(bops, 'com.example.stockservice') === '12', 30000);
    expect(reached(anyone, 'com.example.stockservice')).toBe('11,12');
  });

  it('reads Dubbo 2.6 rules: an override:// URL disables a provider, a route:// URL routes an application', async () => {
    // Where Dubbo 2.6 (dubbo-admin 0.x) writes them: URL-encoded node names, no data.
    const override = `/dubbo/${STOCK}/configurators/${encodeURIComponent(`override://10.12.1.11:20880/${STOCK}?category=configurators&disabled=true&dynamic=false&enabled=true`)}`;
    const route = `/dubbo/${STOCK}/routers/${encodeURIComponent(`route://0.0.0.0/${STOCK}?category=routers&dynamic=false&enabled=true&force=true&name=audit&priority=1&router=condition&rule=${encodeURIComponent('application = audit => host = 10.12.1.13')}&runtime=false`)}`;
    await writer.register(provider('10.12.1.13', STOCK, '&env=blue'), { ephemeral: false });
    await writer.put(override, '');
    await waitFor('the override disables 10.12.1.11', () => reached(anyone, 'com.example.stockservice') === '12,13', 30000);
    await writer.put(route, '');
    const audit = new EnvoyProbe(istiod.xdsAddress, 'sidecar~10.0.0.7~audit-1.default~default.svc.cluster.local', { app: 'audit' }).connect({ listeners: true });
    try {
      await waitFor('audit reaches only 10.12.1.13', () => reached(audit, 'com.example.stockservice') === '13', 30000);
      expect(reached(anyone, 'com.example.stockservice')).toBe('12,13');
    } finally {
      audit.close();
    }
    await writer.remove(override);
    await waitFor('the provider is back when the override goes', () => reached(anyone, 'com.example.stockservice') === '11,12,13', 30000);
  });

  it('follows a rule change: the bops route goes when its condition does', async () => {
    await writer.put(SERVICE_RULE, `configVersion: v3.0\nscope: service\nkey: ${INVENTORY}\nforce: false\nconditions:\n  - "=> host != 10.12.0.3"\n`);
    // bops now reaches 1 and 2 after the service rule, and its own rule keeps the green one.
    await waitFor('bops follows the new chain', () => reached(bops, 'com.example.inventoryservice') === '2', 30000);
    expect(reached(anyone, 'com.example.inventoryservice')).toBe('1,2');
  });
});
