/**
 * Instances whose metadata is asked of a provider that misbehaves (issue 19): pending, not
 * rejected; /readyz and the metrics say what happened; once the provider answers, the instances
 * are served. A real ZooKeeper; the MetadataService is a stand-in on loopback that answers
 * garbage, then nothing, then a real Dubbo answer frame (real Dubbo providers answer in
 * dubbo-providers.test.ts and the e2e estate).
 */
import { metricValue, SE, zkSource } from '../testbed/daemon';
import { fakeMetadataService, localMetadataInstance, metadataAnswer, metadataInfo, type FakeMetadataService } from '../testbed/metadata-provider';
import { waitFor } from '../testbed/net';
import { IstiodLikeClient } from '../testbed/xds-client';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';
import { suiteStack } from '../testbed/harness';

jest.setTimeout(120_000);

const APP = 'inventory-provider';
const REVISION = '5d1e0c3b9a8f7e6d5c4b3a2918070605';

describe('metadata asked of a provider that misbehaves', () => {
  const stack = suiteStack();
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  let admin: string;
  let client: IstiodLikeClient;
  let provider: FakeMetadataService;

  beforeAll(async () => {
    zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    provider = stack.own('metadata provider', await fakeMetadataService(() => Buffer.from('garbage, not a Dubbo frame')), (p) => p.close());
    await writer.put(`/services/${APP}/127.0.0.1:20880`, localMetadataInstance(APP, '127.0.0.1', 20880, REVISION, provider.port));
    const started = await stack.daemon({ sources: [zkSource(zk.connect)], metadataService: { timeoutMs: 300, retryMs: 500, pendingDegradedMs: 300 }, render: { endpointMode: 'inline' } });
    admin = started.admin;
    client = stack.xdsClient(started.xdsAddress);
  });

  const served = () => [...client.resources(SE).values()].some((o) => (o.spec.hosts as string[])[0] === '1.0.0.com.example.inventoryservice');

  it('keeps the instance pending, not rejected, and says so in /readyz, /debug/sources and the metrics', async () => {
    await waitFor('the failure is known', async () => (await metricValue(admin, 'dia_metadata_service_calls_total', { outcome: 'failed' })) >= 1, 30000);
    // The provider now answers nothing at all: the next tries time out.
    provider.answer = () => undefined;
    await waitFor('/readyz degraded with the reason', async () => (await (await fetch(`${admin}/readyz`)).text()).includes(`wait for metadata/${APP}/${REVISION}`), 30000);
    const readyz = await (await fetch(`${admin}/readyz`)).text();
    expect(readyz).toMatch(/^degraded/);
    expect(readyz).toMatch(/not a Dubbo frame|no answer within 300 ms/);
    expect(await metricValue(admin, 'dia_pending_instances', { source: 'zk' })).toBe(1);
    expect(await metricValue(admin, 'dia_rejected_inputs_total', {})).toBe(0);
    const { pendingMetadata } = (await (await fetch(`${admin}/debug/sources?format=json`)).json()) as { pendingMetadata: { document: string; entries: number }[] };
    expect(pendingMetadata).toEqual([expect.objectContaining({ document: `metadata/${APP}/${REVISION}`, entries: 1 })]);
    expect(served()).toBe(false);
  });

  it('serves the instance once the provider answers, with nothing lost or left pending', async () => {
    provider.answer = (id) => metadataAnswer(id, metadataInfo(APP, REVISION, ['com.example.InventoryService:1.0.0']));
    await waitFor('the instance is served', () => served(), 30000);
    await waitFor('nothing pending', async () => (await metricValue(admin, 'dia_pending_instances', { source: 'zk' })) === 0, 30000);
    expect(await (await fetch(`${admin}/readyz`)).text()).toMatch(/^ok/);
    expect(await metricValue(admin, 'dia_rejected_inputs_total', {})).toBe(0);
    expect(await metricValue(admin, 'dia_metadata_service_calls_total', { outcome: 'ok' })).toBe(1);
  });
});
