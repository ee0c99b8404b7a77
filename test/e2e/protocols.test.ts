import type { Daemon } from '../../src/daemon';
import { startDaemon, zkSource } from '../support/daemon';
import { EnvoyProbe, outbound } from '../support/envoy-probe';
import { converged } from '../support/expect-istio';
import { Istiod } from '../support/istiod';
import { ZkWriter } from '../support/zk-client';
import { ZookeeperServer } from '../support/zookeeper-server';

jest.setTimeout(240_000);

const IFACE = 'com.example.MultiService';
const url = (protocol: string, ip: string, port: number) => `${protocol}://${ip}:${port}/${IFACE}?application=multi&interface=${IFACE}&side=provider&timestamp=1700000000000`;
const HOST = 'com.example.multiservice';

/**
 * One service whose providers speak dubbo, tri or both: in istiod's EDS every endpoint is in the
 * cluster of each protocol it registered, at its own port, and in no other. Inline mode only:
 * istiod keeps one of several ServiceEntries of a host that select WorkloadEntries, so
 * workloadentry mode cannot do this yet (docs/istio.md).
 */
describe.each(['inline'] as const)('a multi-protocol service in a real istiod (%s)', (endpointMode) => {
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let daemon: Daemon;
  let istiod: Istiod;
  let probe: EnvoyProbe;

  beforeAll(async () => {
    zk = await new ZookeeperServer().start();
    writer = await ZkWriter.connect(zk.connect);
    for (const u of [url('dubbo', '10.7.2.1', 20880), url('tri', '10.7.2.2', 50051), url('dubbo', '10.7.2.3', 20890), url('tri', '10.7.2.3', 50061)]) await writer.register(u, { ephemeral: false });
    daemon = (await startDaemon({ sources: [zkSource(zk.connect)], render: { endpointMode } })).daemon;
    istiod = await new Istiod({ configSources: [`xds://127.0.0.1:${daemon.xds.port('default')}`] }).start();
    probe = new EnvoyProbe(istiod.xdsAddress).connect();
    await converged(istiod, probe, daemon);
  });

  afterAll(async () => {
    probe?.close();
    await istiod?.destroy();
    await daemon?.stop();
    await writer?.close();
    await zk?.destroy();
  });

  it('puts each endpoint only on the ports it serves, at its own port', () => {
    const at = (port: number) => probe.endpointsOf(outbound(port, HOST))?.map((e) => `${e.address}:${e.port}`).sort();
    expect(at(20880)).toEqual(['10.7.2.1:20880', '10.7.2.3:20890']);
    expect(at(50051)).toEqual(['10.7.2.2:50051', '10.7.2.3:50061']);
  });
});
