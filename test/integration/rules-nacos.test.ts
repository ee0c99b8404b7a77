import path from 'node:path';
import { metricValue, WE } from '../testbed/daemon';
import { ordersSplitPolicy } from '../testbed/config';
import { NacosServer, NacosWriter } from '../testbed/nacos-server';
import { sleep, waitFor } from '../testbed/net';
import { IstiodLikeClient } from '../testbed/xds-client';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(180_000);

const DR = 'networking.istio.io/v1/DestinationRule';
const VS = 'networking.istio.io/v1/VirtualService';
const PROVIDERS = path.resolve(__dirname, '../../config/providers.yaml');
// The provider is version 1.0.0: its consumers read the rule keyed interface:1.0.0:group.
const CONFIGURATOR = 'com.example.order.OrderService:1.0.0:payments.configurators';
const policy = ordersSplitPolicy;

describe('rules from a real Nacos config center', () => {
  const stack = suiteStack();
  let nacos: NacosServer;
  let writer: NacosWriter;
  let admin: string;
  let client: IstiodLikeClient;
  const addresses = () => [...client.resources(WE).values()].map((w) => w.spec.address as string).sort();
  const weights = () => {
    const vs = [...client.resources(VS).values()][0];
    return ((vs?.spec.tcp as { route: { destination: { subset: string }; weight: number }[] }[] | undefined) ?? [])[0]?.route.map((r) => `${r.destination.subset}=${r.weight}`) ?? [];
  };

  beforeAll(async () => {
    nacos = await stack.nacos();
    writer = new NacosWriter(nacos.base);
    await writer.publishConfig('orders', 'dubbo-istio-adapter', policy(90));
    const started = await stack.daemon({
      sources: [{ name: 'file', type: 'file', file: { path: PROVIDERS, pollMs: 200 } }],
      rules: { sources: [{ name: 'nacos-rules', type: 'nacos', nacos: { serverAddr: nacos.address, pollMs: 300 } }] },
    });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
    await waitFor('the policy from Nacos is served', () => weights().length === 2, 60000);
  });

  it('serves a TrafficPolicy from the adapter group as a DestinationRule and a weighted VirtualService', () => {
    expect(weights()).toEqual(['env-blue=90', 'env-green=10']);
    const dr = [...client.resources(DR).values()][0];
    expect((dr.spec.subsets as { name: string }[]).map((s) => s.name)).toEqual(['env-blue', 'env-green']);
  });

  it('applies a Dubbo configurator from the dubbo group, and lifts it when the config is deleted', async () => {
    expect(addresses()).toContain('10.10.1.22');
    await writer.publishConfig(
      CONFIGURATOR,
      'dubbo',
      'configVersion: v2.7\nscope: service\nkey: payments/com.example.order.OrderService:1.0.0\nconfigs:\n- addresses: [10.10.1.22]\n  side: provider\n  parameters: {disabled: true}\n',
    );
    await waitFor('the disabled provider is gone', () => !addresses().includes('10.10.1.22'), 30000);
    await writer.removeConfig(CONFIGURATOR, 'dubbo');
    await waitFor('and back once the rule is deleted', () => addresses().includes('10.10.1.22'), 30000);
  });

  it('applies condition rules from Nacos: one keyed by a consumer application, a v3.1 weighted one, on an unmapped parameter', async () => {
    type Route = { match?: { sourceLabels: Record<string, string> }[]; route: { destination: { subset?: string }; weight?: number }[] };
    const routes = () => ([...client.resources(VS).values()][0]?.spec.tcp as Route[] | undefined) ?? [];
    const members = (subset?: string) => {
      const labels = ([...client.resources(DR).values()][0]?.spec.subsets as { name: string; labels: Record<string, string> }[]).find((x) => x.name === subset)?.labels ?? {};
      return [...client.resources(WE).values()]
        .filter((w) => Object.entries(labels).every(([k, v]) => (w.spec.labels as Record<string, string>)[k] === v))
        .map((w) => w.spec.address as string)
        .sort();
    };
    // zone is not in mapping.labels: the rules name it, so it is read on its own.
    await writer.publishConfig('checkout.condition-router', 'dubbo', 'configVersion: v3.0\nscope: application\nkey: checkout\nconditions:\n  - "=> zone = zone-b"\n');
    await writer.publishConfig(
      'com.example.order.OrderService:1.0.0:payments.condition-router',
      'dubbo',
      'configVersion: v3.1\nscope: service\nkey: payments/com.example.order.OrderService:1.0.0\nconditions:\n  - from: {match: application=bops}\n    to:\n      - {match: zone=zone-a, weight: 70}\n      - {match: zone=zone-b, weight: 30}\n',
    );
    try {
      const route = (app: string) => routes().find((r) => r.match?.[0].sourceLabels.app === app);
      // The VirtualService, the DestinationRule and the WorkloadEntries (which gain the zone
      // label) arrive as three responses: the client may look between them.
      await waitFor(
        'both rules served, and the workloads carry the zone they name',
        () => [route('checkout'), route('bops')].every((r) => r && r.route.every((d) => members(d.destination.subset).length > 0)),
        30000,
      );
      expect(members(route('checkout')!.route[0].destination.subset)).toEqual(['10.10.1.22']);
      expect(route('bops')!.route.map((r) => [members(r.destination.subset), r.weight])).toEqual(
        expect.arrayContaining([
          [['10.10.1.21'], 70],
          [['10.10.1.22'], 30],
        ]),
      );
    } finally {
      // Lifted whatever happened above: the next test reads the same VirtualService.
      await writer.removeConfig('checkout.condition-router', 'dubbo');
      await writer.removeConfig('com.example.order.OrderService:1.0.0:payments.condition-router', 'dubbo');
    }
    await waitFor('the rules are lifted', () => !routes().some((r) => r.match), 30000);
  });

  it('keeps the last good version of a rule whose new content is broken', async () => {
    const rejected = await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos-rules', kind: 'rule' });
    await writer.publishConfig('orders', 'dubbo-istio-adapter', policy(90).replace('env', 'not a label!'));
    await waitFor('rejected', async () => (await metricValue(admin, 'dia_rejected_inputs_total', { source: 'nacos-rules', kind: 'rule' })) > rejected, 30000);
    await sleep(800);
    expect(weights()).toEqual(['env-blue=90', 'env-green=10']);
    await writer.publishConfig('orders', 'dubbo-istio-adapter', policy(60));
    await waitFor('the mended rule', () => weights().join() === 'env-blue=60,env-green=40', 30000);
  });
});
