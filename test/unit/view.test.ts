import { selectorMatches } from '../../src/istio/view';

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
