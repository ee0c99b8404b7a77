import path from 'node:path';
import yaml from 'js-yaml';
import { parseConfig } from '../../src/config/load';
import { Daemon } from '../../src/daemon';
import { waitFor } from '../testbed/net';

const ROOT = path.resolve(__dirname, '../..');
const ORDERS = 'payments/com.example.order.OrderService:1.0.0';

/** The example providers, two views of them, and one rule on the grouped OrderService. */
function daemonWithTwoViews(): Daemon {
  const config = parseConfig(
    yaml.dump({
      sources: [{ name: 'file', type: 'file', file: { path: path.join(ROOT, 'config/providers.yaml') } }],
      clusters: [
        { name: 'all', listener: { port: 0 } },
        // A view that leaves the OrderService out.
        {
          name: 'no-orders',
          listener: { port: 0 },
          filter: { services: { matchExpressions: [{ key: 'dubbo.apache.org/interface', operator: 'NotIn', values: ['com.example.order.OrderService'] }] } },
        },
      ],
      rules: {
        documents: [
          {
            apiVersion: 'dubbo-istio-adapter.io/v1',
            kind: 'TrafficPolicy',
            metadata: { name: 'orders' },
            spec: { services: ['payments/com.example.order.OrderService'], split: { label: 'env', weights: { blue: 80, green: 20 } } },
          },
        ],
      },
    }),
  );
  return new Daemon(config);
}

describe('the pipeline: one render path for run, render and /debug/rules', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = daemonWithTwoViews();
    await daemon.startSources();
    await waitFor('sources synced', () => daemon.sourcesSynced());
    daemon.flushNow();
  });
  afterAll(() => daemon.stopSources());

  it('explains the rules of a view only for the services that view serves', () => {
    const served = (cluster: string) =>
      daemon.pipeline
        .objects(cluster)
        .filter((o) => o.kind === 'VirtualService')
        .map((o) => o.name);
    expect(served('all')).toEqual(['1-0-0-payments-com-example-order-orderservice']);
    expect(daemon.effectiveRules('all').map((r) => r.service)).toEqual([ORDERS]);
    // /debug/rules used to list the OrderService here although the view never serves it.
    expect(served('no-orders')).toEqual([]);
    expect(daemon.effectiveRules('no-orders')).toEqual([]);
  });

  it('prints for a view exactly the objects it serves', () => {
    for (const snap of daemon.snapshots()) {
      const served = [...snap.types.values()].flatMap((t) => [...t.resources.values()].map((r) => `${r.object.kind} ${r.name} ${r.version}`));
      expect(daemon.pipeline.objects(snap.cluster).map((o) => `${o.kind} ${o.namespace}/${o.name} ${o.version}`)).toEqual(served);
    }
  });
});

describe('provider parameters that rules name are read on their own (issue 17, item 6)', () => {
  let daemon: Daemon;
  const RULE = '/dubbo/config/dubbo/com.example.order.OrderService:1.0.0:payments.condition-router';
  const CONFIGURATOR = '/dubbo/config/dubbo/com.example.order.OrderService:1.0.0:payments.configurators';
  beforeAll(async () => {
    daemon = daemonWithTwoViews();
    await daemon.startSources();
    await waitFor('sources synced', () => daemon.sourcesSynced());
  });
  afterAll(() => daemon.stopSources());

  const endpoints = () =>
    (daemon.pipeline.objects('all').find((o) => o.kind === 'ServiceEntry' && o.name === '1-0-0-payments-com-example-order-orderservice')?.spec.endpoints ?? []) as {
      address: string;
      weight?: number;
      labels: Record<string, string>;
    }[];

  it('matches a condition on zone and a configurator on a param without any mapping by hand', () => {
    // The forms of Dubbo's docs: "=> region = hangzhou" and match.param; zone is not in mapping.labels.
    daemon.rules.set('zk', RULE, 'configVersion: v3.0\nscope: service\nkey: payments/com.example.order.OrderService:1.0.0\nconditions:\n  - "application = checkout => zone = zone-b"\n', 1);
    daemon.rules.set(
      'zk',
      CONFIGURATOR,
      'configVersion: v3.0\nscope: service\nkey: payments/com.example.order.OrderService:1.0.0\nconfigs:\n  - side: provider\n    match: {param: [{key: zone, value: {exact: zone-a}}]}\n    parameters: {weight: 7}\n',
      1,
    );
    daemon.flushNow();
    const rules = daemon.effectiveRules('all').find((r) => r.service === ORDERS)!;
    expect(rules.notes).toEqual([]);
    const tcp = (rules.virtualService as { tcp: { match?: unknown }[] }).tcp;
    expect(tcp[0].match).toEqual([{ sourceLabels: { app: 'checkout' } }]);
    const byAddress = Object.fromEntries(endpoints().map((e) => [e.address, e]));
    expect(byAddress['10.10.1.21'].labels['param.dubbo.apache.org/zone']).toBe('zone-a');
    expect(byAddress['10.10.1.21'].weight).toBe(7);
    const routeLabel = Object.keys(byAddress['10.10.1.22'].labels).find((k) => k.startsWith('route.dubbo.apache.org/'));
    expect(routeLabel).toBeDefined();
    expect(byAddress['10.10.1.21'].labels[routeLabel!]).toBeUndefined();
  });

  it('stops reading them when no rule names them', () => {
    daemon.rules.set('zk', RULE, undefined, 2);
    daemon.rules.set('zk', CONFIGURATOR, undefined, 2);
    daemon.flushNow();
    expect(endpoints().map((e) => Object.keys(e.labels).filter((k) => k.startsWith('param.dubbo.apache.org/')))).toEqual([[], []]);
  });
});
