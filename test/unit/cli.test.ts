import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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
    expect(vs.metadata.name).toBe('1-0-0-payments-com-example-order-orderservice');
    expect((vs.spec.tcp as { route: { weight: number }[] }[])[0].route.map((x) => x.weight)).toEqual([80, 20]);
    expect(docs.some((d) => d.kind === 'DestinationRule')).toBe(true);
  }, 60000);

  it('render prints interfaces that differ only in case as two services, with their own hosts, names and addresses', () => {
    // They used to get one host and so claim one ServiceEntry name: one of them was never served.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dia-cli-'));
    const url = (iface: string, ip: string, ts: number) => `dubbo://${ip}:20880/${iface}?application=demo&interface=${iface}&side=provider&timestamp=${ts}`;
    writeFileSync(
      path.join(dir, 'providers.yaml'),
      yaml.dump({ providers: { 'com.example.foo': [url('com.example.foo', '10.0.0.2', 1700000000001)], 'com.example.Foo': [url('com.example.Foo', '10.0.0.1', 1700000000000)] } }),
    );
    writeFileSync(path.join(dir, 'adapter.yaml'), yaml.dump({ sources: [{ name: 'file', type: 'file', file: { path: path.join(dir, 'providers.yaml') } }] }));
    const r = cli('render', '--config', path.join(dir, 'adapter.yaml'));
    expect(r.status).toBe(0);
    const docs = yaml.loadAll(r.stdout) as { kind: string; metadata: { name: string }; spec: { hosts: string[]; addresses: string[]; endpoints: { address: string }[] } }[];
    const entries = docs.filter((d) => d.kind === 'ServiceEntry').map((d) => ({ name: d.metadata.name, host: d.spec.hosts[0], address: d.spec.addresses[0], endpoint: d.spec.endpoints[0].address }));
    // The elder (registered first) keeps the plain host.
    const plain = entries.find((e) => e.host === 'com.example.foo')!;
    const other = entries.find((e) => e !== plain)!;
    expect(plain).toMatchObject({ name: 'com-example-foo', endpoint: '10.0.0.1' });
    expect(other.host).toMatch(/^h[0-9a-f]{10}\.com\.example\.foo$/);
    expect(other.endpoint).toBe('10.0.0.2');
    expect(other.name).not.toBe(plain.name);
    expect(other.address).not.toBe(plain.address);
  }, 60000);

  it('render and validate review config-center rules offline, from files named as their config keys', () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dia-cli-')), 'rules');
    mkdirSync(dir);
    // Keyed by the consumer application: its calls to the order service go to the blue provider.
    writeFileSync(path.join(dir, 'checkout.condition-router'), 'configVersion: v3.0\nscope: application\nkey: checkout\nconditions:\n  - "=> env = blue"\n');
    // A version-keyed configurator, with a range that matches no provider: nothing changes.
    writeFileSync(
      path.join(dir, 'com.example.order.OrderService:1.0.0:payments.configurators'),
      'configVersion: v3.0\nscope: service\nkey: payments/com.example.order.OrderService:1.0.0\nconfigs:\n  - side: provider\n    match: {address: {cird: 10.20.153.0/24}}\n    parameters: {disabled: true}\n',
    );
    writeFileSync(path.join(dir, 'demo.condition-router'), 'configVersion: v3.0\nscope: application\nkey: demo\nconditions:\n  - "=> host = $host"\n');
    const r = cli('render', '--config', configWith([]), '--rules', dir);
    expect(r.status).toBe(0);
    const docs = yaml.loadAll(r.stdout) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> }[];
    const vs = docs.find((d) => d.kind === 'VirtualService' && d.metadata.name === '1-0-0-payments-com-example-order-orderservice')!;
    expect(vs.spec.tcp).toEqual([
      { match: [{ sourceLabels: { app: 'checkout' } }], route: [{ destination: { host: '1.0.0.payments.com.example.order.orderservice', subset: expect.stringMatching(/^route-/) } }] },
      { route: [{ destination: { host: '1.0.0.payments.com.example.order.orderservice' } }] },
    ]);
    const se = docs.find((d) => d.kind === 'ServiceEntry' && d.metadata.name === '1-0-0-payments-com-example-order-orderservice')!;
    expect((se.spec.endpoints as unknown[]).length).toBe(2);
    // What the rules cannot do is said next to the objects.
    expect(r.stderr).toContain('"=> host = $host": its provider side names a value the adapter cannot evaluate');

    writeFileSync(path.join(dir, 'broken.configurators'), 'configVersion: v3.0\nscope: application\nkey: demo\nconfigs:\n  - match: {param: [null]}\n');
    const v = cli('validate', '--config', configWith([]), '--rules', dir);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain(`${path.join(dir, 'broken.configurators')}: configs[0].match.param[0] has no key`);
  }, 60000);

  it('validate refuses a broken inline rule with its path', () => {
    const bad = { ...policy, spec: { ...policy.spec, split: { label: 'env', weights: { blue: 80, green: 30 } } } };
    const r = cli('validate', '--config', configWith([bad]));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('rules/documents/0: TrafficPolicy orders: spec.split.weights: weights add up to 110, not 100');
  }, 60000);
});
