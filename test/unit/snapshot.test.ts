import { object } from '../../src/istio/render';
import { ResourceCache, SnapshotBuilder } from '../../src/xds/snapshot';
import { decodeMcpAny } from '../testbed/xds-client';
import { Any } from '../testbed/proto-any';

const WE_URL = 'networking.istio.io/v1/WorkloadEntry';

const se = (name: string, host: string, ports = [{ number: 20880, protocol: 'TCP', name: 'tcp-dubbo' }]) =>
  object(
    'ServiceEntry',
    'dubbo',
    name,
    { 'istio.io/rev': 'canary' },
    { 'dubbo.apache.org/interface': host },
    { hosts: [host], ports, location: 'MESH_INTERNAL', resolution: 'STATIC', workloadSelector: { labels: { s: name } } },
    1_630_745_698_310,
  );
const we = (name: string, address: string) => object('WorkloadEntry', 'dubbo', name, {}, {}, { address, ports: { 'tcp-dubbo': 20880 }, labels: { app: 'x' }, weight: 100, locality: 'r/z' }, 1_000);

describe('SnapshotBuilder', () => {
  it('encodes MCP resources the way istiod unpacks them', () => {
    const b = new SnapshotBuilder('c1');
    const s = b.update(new Map([['svc', [se('a-b', 'a.b'), we('a-b-1', '10.0.0.1')]]]));
    const r = s.types.get('ServiceEntry')!.resources.get('dubbo/a-b')!;
    const decoded = decodeMcpAny(Any.decode(r.any));
    expect(decoded).toEqual({
      name: 'dubbo/a-b',
      version: r.version,
      createTime: { seconds: 1630745698, nanos: 310000000 },
      labels: { 'istio.io/rev': 'canary' },
      annotations: { 'dubbo.apache.org/interface': 'a.b' },
      bodyTypeUrl: 'type.googleapis.com/istio.networking.v1alpha3.ServiceEntry',
      spec: { hosts: ['a.b'], ports: [{ number: 20880, protocol: 'TCP', name: 'tcp-dubbo' }], location: 'MESH_INTERNAL', resolution: 'STATIC', workloadSelector: { labels: { s: 'a-b' } } },
    });
    const w = decodeMcpAny(Any.decode(s.types.get('WorkloadEntry')!.resources.get('dubbo/a-b-1')!.any));
    expect(w.spec).toEqual({ address: '10.0.0.1', ports: { 'tcp-dubbo': 20880 }, labels: { app: 'x' }, weight: 100, locality: 'r/z' });
  });

  it('never encodes an unchanged resource twice, and keeps unchanged kinds as they were', () => {
    let encoded = 0;
    const b = new SnapshotBuilder('c1', { encoded: (n) => (encoded += n) });
    const s1 = b.update(new Map([['svc', [se('a-b', 'a.b'), we('a-b-1', '10.0.0.1')]]]));
    expect(encoded).toBe(2);
    const s2 = b.update(new Map([['svc', [se('a-b', 'a.b'), we('a-b-1', '10.0.0.1'), we('a-b-2', '10.0.0.2')]]]));
    expect(encoded).toBe(3);
    expect(s2.types.get('ServiceEntry')).toBe(s1.types.get('ServiceEntry'));
    expect(s2.types.get('WorkloadEntry')!.version).not.toBe(s1.types.get('WorkloadEntry')!.version);
    expect(s2.types.get('WorkloadEntry')!.resources.get('dubbo/a-b-1')!.any).toBe(s1.types.get('WorkloadEntry')!.resources.get('dubbo/a-b-1')!.any);
  });

  it('shares one encoding between cluster views whose objects are identical, and frees it with the last', () => {
    const cache = new ResourceCache();
    let encoded = 0;
    const count = { encoded: (n: number) => (encoded += n) };
    const east = new SnapshotBuilder('east', count, cache);
    const west = new SnapshotBuilder('west', count, cache);
    const shared = we('a-b-1', '10.0.0.1');
    const e = east.update(new Map([['svc', [se('a-b', 'a.b'), shared]]]));
    // west differs in one object (another network), and shares the rest.
    const w = west.update(new Map([['svc', [se('a-b', 'a.b'), object('WorkloadEntry', 'dubbo', 'a-b-2', {}, {}, { address: '10.0.0.2', network: 'west' }, 1)]]]));
    expect(encoded).toBe(3);
    expect(w.types.get('ServiceEntry')!.resources.get('dubbo/a-b')!.any).toBe(e.types.get('ServiceEntry')!.resources.get('dubbo/a-b')!.any);
    expect(cache.size).toBe(3);
    east.update(new Map([['svc', []]]));
    expect(cache.size).toBe(2);
    west.update(new Map([['svc', []]]));
    expect(cache.size).toBe(0);
  });

  it('gives a type the same version for the same set, whatever the order of changes', () => {
    const a = new SnapshotBuilder('c');
    a.update(new Map([['s1', [we('w1', '10.0.0.1')]]]));
    a.update(new Map([['s2', [we('w2', '10.0.0.2')]]]));
    const b = new SnapshotBuilder('c');
    b.update(
      new Map([
        ['s2', [we('w2', '10.0.0.2')]],
        ['s1', [we('w1', '10.0.0.1')]],
      ]),
    );
    expect(a.latest().types.get('WorkloadEntry')!.version).toBe(b.latest().types.get('WorkloadEntry')!.version);
    expect(a.latest().types.get('WorkloadEntry')!.response(WE_URL, 'n').bytes.equals(b.latest().types.get('WorkloadEntry')!.response(WE_URL, 'n').bytes)).toBe(true);
  });

  it('removes the objects of a removed service', () => {
    const b = new SnapshotBuilder('c');
    b.update(new Map([['s1', [se('a-b', 'a.b'), we('w1', '10.0.0.1')]]]));
    const s = b.update(new Map([['s1', []]]));
    expect(s.types.get('ServiceEntry')!.resources.size).toBe(0);
    expect(s.types.get('WorkloadEntry')!.resources.size).toBe(0);
  });

  it('resolves two services claiming one name deterministically, and reports it', () => {
    const conflicts: string[][] = [];
    const b = new SnapshotBuilder('c', { conflict: (_k, _n, owners) => conflicts.push(owners) });
    b.update(new Map([['z-svc', [se('a-b', 'z.host')]]]));
    b.update(new Map([['a-svc', [se('a-b', 'a.host')]]]));
    expect(conflicts).toEqual([['a-svc', 'z-svc']]);
    expect(b.latest().types.get('ServiceEntry')!.resources.get('dubbo/a-b')!.object.spec.hosts).toEqual(['a.host']);
    b.update(new Map([['a-svc', []]]));
    expect(b.latest().types.get('ServiceEntry')!.resources.get('dubbo/a-b')!.object.spec.hosts).toEqual(['z.host']);
  });

  it('keeps every type in name order as objects come and go, without sorting the whole type again', () => {
    const b = new SnapshotBuilder('c');
    const names = (s: ReturnType<SnapshotBuilder['latest']>) => [...s.types.get('WorkloadEntry')!.resources.keys()];
    b.update(
      new Map([
        ['s2', [we('w-m', '10.0.0.2'), we('w-c', '10.0.0.3')]],
        ['s1', [we('w-x', '10.0.0.1')]],
      ]),
    );
    expect(names(b.latest())).toEqual(['dubbo/w-c', 'dubbo/w-m', 'dubbo/w-x']);
    b.update(
      new Map([
        ['s3', [we('w-a', '10.0.0.4')]],
        ['s2', [we('w-m', '10.0.0.2')]],
      ]),
    );
    expect(names(b.latest())).toEqual(['dubbo/w-a', 'dubbo/w-m', 'dubbo/w-x']);
  });
});
