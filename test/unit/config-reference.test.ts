import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configReference } from '../../src/config/reference';

describe('docs/configuration.md', () => {
  it('is the reference generated from the schema (regenerate with npm run docs:config)', () => {
    const onDisk = readFileSync(path.join(__dirname, '../../docs/configuration.md'), 'utf8');
    expect(onDisk).toBe(configReference());
  });

  it('lists every key with its default', () => {
    const ref = configReference();
    expect(ref).toContain('| `sources[].zookeeper.root` | string | `"dubbo"` |');
    expect(ref).toContain('| `clusters[].listener.port` (required) | integer (0..65535) |');
    expect(ref).toContain('| `mapping.protocols.<name>.portName` (required) | string |');
  });
});
