import { outbound } from '../testbed/envoy-probe';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(240_000);

const IFACE = 'com.example.MultiService';
const url = (protocol: string, ip: string, port: number) => `${protocol}://${ip}:${port}/${IFACE}?application=multi&interface=${IFACE}&side=provider&timestamp=1700000000000`;
const HOST = 'com.example.multiservice';

/**
 * One service whose providers speak dubbo, tri or both: in istiod's EDS every endpoint is in the
 * cluster of each protocol it registered, at its own port, and in no other. In workloadentry
 * mode such a service is rendered inline (istiod keeps one of several ServiceEntries of a host
 * that select WorkloadEntries; docs/istio.md), with the same result.
 */
describe.each(['inline', 'workloadentry'] as const)('a multi-protocol service in a real istiod (%s)', (endpointMode) => {
  const stack = new IstiodStack();

  beforeAll(async () => {
    await stack.start({
      seed: async (writer) => {
        for (const u of [url('dubbo', '10.7.2.1', 20880), url('tri', '10.7.2.2', 50051), url('dubbo', '10.7.2.3', 20890), url('tri', '10.7.2.3', 50061)])
          await writer.register(u, { ephemeral: false });
      },
      daemon: { render: { endpointMode } },
    });
  });
  afterAll(() => stack.stop());

  it('puts each endpoint only on the ports it serves, at its own port', () => {
    const at = (port: number) =>
      stack
        .probe!.endpointsOf(outbound(port, HOST))
        ?.map((e) => `${e.address}:${e.port}`)
        .sort();
    expect(at(20880)).toEqual(['10.7.2.1:20880', '10.7.2.3:20890']);
    expect(at(50051)).toEqual(['10.7.2.2:50051', '10.7.2.3:50061']);
  });
});
