import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Metrics } from '../../src/common/metrics';

describe('docs/operations.md', () => {
  it('documents every metric the daemon exports', async () => {
    const doc = readFileSync(path.join(__dirname, '../../docs/operations.md'), 'utf8');
    const names = (await new Metrics(false).registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('dia_'));
    expect(names.length).toBeGreaterThan(15);
    expect(names.filter((n) => !doc.includes(`\`${n}\``))).toEqual([]);
  });
});
