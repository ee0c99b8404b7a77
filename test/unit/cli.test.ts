import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';

const ROOT = path.resolve(__dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });

function configWith(documents: unknown[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dia-cli-'));
  const file = path.join(dir, 'adapter.yaml');
  writeFileSync(file, yaml.dump({ sources: [{ name: 'file', type: 'file', file: { path: path.join(ROOT, 'config/providers.yaml') } }], rules: { documents } }));
  return file;
}

const policy = {
  apiVersion: 'dubbo-istio-adapter.io/v1',
  kind: 'TrafficPolicy',
  metadata: { name: 'orders' },
  spec: { services: ['payments/com.example.order.OrderService'], split: { label: 'env', weights: { blue: 80, green: 20 } } },
};

describe('cli', () => {
  it('render prints the rules in force next to the services', () => {
    const r = cli('render', '--config', configWith([policy]));
    expect(r.status).toBe(0);
    const docs = yaml.loadAll(r.stdout) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> }[];
    const vs = docs.find((d) => d.kind === 'VirtualService')!;
    expect(vs.metadata.name).toBe('payments-com-example-order-orderservice');
    expect((vs.spec.tcp as { route: { weight: number }[] }[])[0].route.map((x) => x.weight)).toEqual([80, 20]);
    expect(docs.some((d) => d.kind === 'DestinationRule')).toBe(true);
  }, 60000);

  it('render prints what run serves: of two services that claim one object name, only the winner', () => {
    // Interfaces that differ only in case get one host, so both claim one ServiceEntry name; the
    // snapshot keeps the smallest service id's. render used to print both.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dia-cli-'));
    const url = (iface: string, ip: string) => `dubbo://${ip}:20880/${iface}?application=demo&interface=${iface}&side=provider&timestamp=1700000000000`;
    writeFileSync(path.join(dir, 'providers.yaml'), yaml.dump({ providers: { 'com.example.Foo': [url('com.example.Foo', '10.0.0.1')], 'com.example.foo': [url('com.example.foo', '10.0.0.2')] } }));
    writeFileSync(path.join(dir, 'adapter.yaml'), yaml.dump({ sources: [{ name: 'file', type: 'file', file: { path: path.join(dir, 'providers.yaml') } }] }));
    const r = cli('render', '--config', path.join(dir, 'adapter.yaml'));
    expect(r.status).toBe(0);
    const docs = yaml.loadAll(r.stdout) as { kind: string; metadata: { name: string }; spec: { endpoints?: { address: string }[] } }[];
    const entries = docs.filter((d) => d.kind === 'ServiceEntry');
    expect(entries.map((d) => d.metadata.name)).toEqual(['com-example-foo']);
    expect(entries[0].spec.endpoints!.map((e) => e.address)).toEqual(['10.0.0.1']);
  }, 60000);

  it('validate refuses a broken inline rule with its path', () => {
    const bad = { ...policy, spec: { ...policy.spec, split: { label: 'env', weights: { blue: 80, green: 30 } } } };
    const r = cli('validate', '--config', configWith([bad]));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('rules/documents/0: TrafficPolicy orders: spec.split.weights: weights add up to 110, not 100');
  }, 60000);
});
