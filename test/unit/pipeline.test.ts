import path from 'node:path';
import yaml from 'js-yaml';
import { parseConfig } from '../../src/config/load';
import { Daemon } from '../../src/daemon';
import { waitFor } from '../support/net';

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
        { name: 'no-orders', listener: { port: 0 }, filter: { services: { matchExpressions: [{ key: 'dubbo.apache.org/interface', operator: 'NotIn', values: ['com.example.order.OrderService'] }] } } },
      ],
      rules: {
        documents: [
          { apiVersion: 'dubbo-istio-adapter.io/v1', kind: 'TrafficPolicy', metadata: { name: 'orders' }, spec: { services: ['payments/com.example.order.OrderService'], split: { label: 'env', weights: { blue: 80, green: 20 } } } },
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
    const served = (cluster: string) => daemon.pipeline.objects(cluster).filter((o) => o.kind === 'VirtualService').map((o) => o.name);
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
