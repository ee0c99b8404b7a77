import { outbound, type ProbeTarget } from '../testbed/envoy-probe';
import { served } from '../testbed/expect-istio';
import { waitFor } from '../testbed/net';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(240_000);

const url = (iface: string, ip: string, extra = '', protocol = 'dubbo', port = 20880) =>
  `${protocol}://${ip}:${port}/${iface}?application=estate&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;

/**
 * Several dubbo:// services (plain, two versions, a group, and one with tri as well), as a real
 * istiod builds them for a sidecar: each TCP service on its own outbound listener at its virtual
 * IP, and each version and group its own cluster.
 */
const ESTATE = [
  url('com.example.Plain', '10.7.3.1'),
  url('com.example.Versioned', '10.7.3.2', '&version=1.0.0'),
  url('com.example.Versioned', '10.7.3.2', '&version=2.0.0'), // one process serving both versions
  url('com.example.Versioned', '10.7.3.3', '&version=2.0.0'),
  url('com.example.Grouped', '10.7.3.4', '&group=g1'),
  url('com.example.Multi', '10.7.3.5'),
  url('com.example.Multi', '10.7.3.5', '', 'tri', 50051),
];
const TCP_HOSTS = ['com.example.plain', '1.0.0.com.example.versioned', '2.0.0.com.example.versioned', 'g1.com.example.grouped', 'com.example.multi'];
const CONFLICT = 'pilot_conflict_outbound_listener_tcp_over_current_tcp';
/** istiod refreshes its push status and metrics on a 10 s ticker (periodicRefreshMetrics). */
const ISTIOD_STATUS_REFRESH_MS = 11_000;

const seed = async (writer: { register(u: string, o: { ephemeral: boolean }): Promise<string> }) => {
  for (const u of ESTATE) await writer.register(u, { ephemeral: false });
};
const conflicts = async (stack: IstiodStack) => Object.keys((await stack.istiod!.pushStatus())[CONFLICT] ?? {});
const clusterOf = (targets: ProbeTarget[] | undefined) => targets?.map((t) => ('cluster' in t ? t.cluster : '')).join(',');

describe('every Dubbo TCP service through a sidecar, in a real istiod', () => {
  const stack = new IstiodStack();
  beforeAll(() => stack.start({ seed, probe: { listeners: true } }));
  afterAll(() => stack.stop());

  const addresses = () => {
    const out = new Map<string, string>();
    for (const se of served(stack.daemon!).get('ServiceEntry')!.values()) {
      const spec = se.spec as { hosts: string[]; addresses?: string[] };
      out.set(spec.hosts[0], spec.addresses?.[0] ?? '');
    }
    return out;
  };

  it('gives each service its own virtual IP, and each TCP service its own outbound listener there', async () => {
    const vips = addresses();
    expect(new Set(TCP_HOSTS.map((h) => vips.get(h))).size).toBe(TCP_HOSTS.length);
    await waitFor('a listener per TCP service', () => TCP_HOSTS.every((h) => stack.probe!.tcpTargets.has(`${vips.get(h)}_20880`)), 60000);
    for (const h of TCP_HOSTS) expect(clusterOf(stack.probe!.tcpTargets.get(`${vips.get(h)}_20880`))).toBe(outbound(20880, h));
    // No wildcard listener on the dubbo port that would send every service to one of them.
    expect(stack.probe!.tcpTargets.has('0.0.0.0_20880')).toBe(false);
    // istiod publishes its notes of a push every 10 s (the control below sees one within that):
    // past that, a conflict would show.
    await new Promise((r) => setTimeout(r, ISTIOD_STATUS_REFRESH_MS));
    expect(await conflicts(stack)).toEqual([]);
  });

  it('never mixes versions or groups: each cluster holds only the providers of its version and group, once', () => {
    const eps = (host: string) => stack.probe!.endpointsOf(outbound(20880, host))?.map((e) => `${e.address}:${e.port}`);
    expect(eps('1.0.0.com.example.versioned')).toEqual(['10.7.3.2:20880']);
    expect(eps('2.0.0.com.example.versioned')).toEqual(['10.7.3.2:20880', '10.7.3.3:20880']);
    expect(eps('g1.com.example.grouped')).toEqual(['10.7.3.4:20880']);
    expect(stack.probe!.clusters.has(outbound(20880, 'com.example.versioned'))).toBe(false);
  });
});

/** The same estate without virtual IPs: the failure the addresses exist for, seen in istiod. */
describe('the same estate without virtual IPs', () => {
  const stack = new IstiodStack();
  beforeAll(() => stack.start({ seed, probe: { listeners: true }, daemon: { render: { virtualAddresses: { enabled: false } } } }));
  afterAll(() => stack.stop());

  it('shares one wildcard listener on 20880 and makes istiod report the conflict', async () => {
    await waitFor('the wildcard listener', () => stack.probe!.tcpTargets.has('0.0.0.0_20880'), 60000);
    // One listener, one cluster: every other dubbo:// service is unreachable through the sidecar.
    expect(stack.probe!.tcpTargets.get('0.0.0.0_20880')).toHaveLength(1);
    await waitFor('istiod notes the listener conflict', async () => (await conflicts(stack)).includes('0.0.0.0_20880'), 3 * ISTIOD_STATUS_REFRESH_MS);
  });
});
