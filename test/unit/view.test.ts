import { inView, selectorMatches, shardOf } from '../../src/istio/view';
import { testConfig } from '../testbed/config';

describe('selectorMatches (Kubernetes LabelSelector semantics)', () => {
  const labels = { app: 'orders', env: 'blue' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { app: 'orders' } }, true],
    [{ matchLabels: { app: 'orders', env: 'green' } }, false],
    [{ matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['blue', 'green'] }] }, true],
    [{ matchExpressions: [{ key: 'env', operator: 'NotIn' as const, values: ['blue'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn' as const, values: ['z1'] }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' as const }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' as const }] }, true],
    [{ matchLabels: { app: 'orders' }, matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['green'] }] }, false],
  ])('%j → %s', (sel, want) => {
    expect(selectorMatches(sel, labels)).toBe(want);
  });
});

describe('shards', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `g${i % 3}/com.example.svc${i}.Service`);

  it('put every service in exactly one shard, the same one in any process, spread evenly', () => {
    const counts = new Array(16).fill(0);
    for (const id of ids) {
      const s = shardOf(id, 16);
      expect(s).toBe(shardOf(id, 16));
      counts[s]++;
    }
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length);
    // 125 per shard on average; a sound hash stays well within ±40%.
    for (const n of counts) expect(n).toBeGreaterThan(75);
    for (const n of counts) expect(n).toBeLessThan(175);
    expect(shardOf('any', 1)).toBe(0);
  });

  it('leave a service out of the views of other shards', () => {
    const cfg = testConfig({ clusters: [0, 1, 2, 3].map((index) => ({ name: `s${index}`, listener: { port: 0 }, shard: { index, count: 4 } })) });
    const svc = { id: 'com.example.A', key: { interface: 'com.example.A', group: '', version: '' }, versions: [], createdAtMs: 0, endpoints: [], protocols: [] };
    const seen = cfg.clusters.filter((c) => inView(svc, c, 'm') !== undefined).map((c) => c.name);
    expect(seen).toEqual([`s${shardOf('com.example.A', 4)}`]);
  });

  it('refuse an index outside the count', () => {
    expect(() => testConfig({ clusters: [{ name: 'a', listener: { port: 0 }, shard: { index: 4, count: 4 } }] })).toThrow(/clusters\/0\/shard\/index: 4 is not below count 4/);
  });
});
