import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DiscoveryRequest, DiscoveryResponse } from '../../src/xds/proto';
import { DaemonProcess } from '../testbed/daemon-process';
import { freePort, sleep, waitFor } from '../testbed/net';
import { IstiodLikeClient } from '../testbed/xds-client';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';

jest.setTimeout(120_000);

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const SE = 'networking.istio.io/v1/ServiceEntry';
/** How much the daemon's resident memory may grow over one attack. */
const RSS_BOUND_MB = 150;
/** How much log one attack may write. */
const LOG_BOUND_BYTES = 256 * 1024;

const provider = (ip: string, iface = 'com.example.Victim', extra = '') => `dubbo://${ip}:20880/${iface}?application=victim&interface=${iface}&side=provider&timestamp=1700000000000${extra}`;

/** The daemon with a ZooKeeper registry and rule source, and an xDS port of its own. */
class AttackedDaemon extends DaemonProcess {
  xds = 0;

  async boot(zk: string): Promise<void> {
    this.xds = await freePort();
    await this.start({
      sources: [{ name: 'zk', type: 'zookeeper', zookeeper: { connect: zk, sessionTimeoutMs: 4000, resyncIntervalMs: 0 } }],
      clusters: [{ name: 'default', listener: { port: this.xds } }],
      xds: { debounce: { quietMs: 20, maxDelayMs: 200 } },
      rules: { sources: [{ name: 'zk-rules', type: 'zookeeper', zookeeper: { connect: zk, sessionTimeoutMs: 4000 } }] },
    });
    await this.ready();
  }
}

/** A hostile client's raw ADS stream: write what it likes, and learn how the stream ended. */
function attacker(address: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
  const stream = client.makeBidiStreamRequest(
    ADS,
    (m: object) => Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromObject(m)).finish()),
    (b: Buffer) => b,
  );
  let received = 0;
  const ended = new Promise<number>((resolve) => {
    stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
    stream.on('end', () => resolve(grpc.status.OK));
  });
  stream.on('data', (b: Buffer) => (received += b.length));
  stream.on('error', () => {});
  return {
    stream,
    ended,
    received: () => received,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

/**
 * Attacks from the issue of that name, replayed against the daemon with a real ZooKeeper. After
 * each: the daemon is alive, its memory and log grew within a bound, a well-behaved client is
 * still served and sees a change promptly, and the last good state is intact.
 */
describe('the daemon under attack', () => {
  let zk: ZookeeperServer;
  let writer: ZkWriter;
  const daemon = new AttackedDaemon();
  let good: IstiodLikeClient;
  let changes = 0;
  let before: { rss: number; log: number };

  beforeAll(async () => {
    zk = await new ZookeeperServer().start();
    writer = await ZkWriter.connect(zk.connect);
    for (let i = 1; i <= 20; i++) await writer.register(provider(`10.66.0.${i}`), { ephemeral: false });
    await writer.mkdirp('/dubbo/config/dubbo-istio-adapter');
    await daemon.boot(zk.connect);
    good = new IstiodLikeClient(`127.0.0.1:${daemon.xds}`).connect();
    await waitFor('the good client holds the estate', () => good.synced() && endpoints() === 20, 30000);
  });
  afterAll(async () => {
    good?.close();
    await daemon.stop();
    await writer?.close();
    await zk?.destroy();
  });

  const endpoints = () => [...good.resources(SE).values()].reduce((n, o) => n + ((o.spec.endpoints as unknown[] | undefined)?.length ?? 0), 0);

  beforeEach(() => {
    before = { rss: daemon.rssMb(), log: daemon.logBytes() };
  });

  /** After every attack: alive, bounded, and still serving changes to a well-behaved client. */
  afterEach(async () => {
    expect(daemon.alive()).toBe(true);
    expect(daemon.rssMb() - before.rss).toBeLessThan(RSS_BOUND_MB);
    expect(daemon.logBytes() - before.log).toBeLessThan(LOG_BOUND_BYTES);
    const ip = `10.66.1.${++changes}`;
    await writer.register(provider(ip), { ephemeral: false });
    await waitFor('a change after the attack reaches the good client', () => [...good.resources(SE).values()].some((o) => JSON.stringify(o.spec).includes(`"${ip}"`)), 30000);
    expect(endpoints()).toBe(20 + changes);
  });

  it('a stream naming 100,000 junk type URLs ends with RESOURCE_EXHAUSTED', async () => {
    const a = attacker(`127.0.0.1:${daemon.xds}`);
    let over = false;
    void a.ended.then(() => (over = true));
    for (let i = 0; i < 100_000 && !over; i++) if (!a.stream.write({ typeUrl: `junk.example/v1/Kind${i}` })) await Promise.race([new Promise((r) => a.stream.once('drain', r)), a.ended]);
    expect(await a.ended).toBe(grpc.status.RESOURCE_EXHAUSTED);
    a.close();
  });

  it('six concurrent 20 MiB requests are refused on their length, never decoded', async () => {
    const attacks = Array.from({ length: 6 }, () => attacker(`127.0.0.1:${daemon.xds}`));
    for (const a of attacks) a.stream.write({ typeUrl: SE, node: { id: 'x'.repeat(20 << 20) } });
    expect(await Promise.all(attacks.map((a) => a.ended))).toEqual(Array(6).fill(grpc.status.RESOURCE_EXHAUSTED));
    for (const a of attacks) a.close();
  });

  it('an ACK-then-re-request loop gets a burst of responses, then its stream ends', async () => {
    const a = attacker(`127.0.0.1:${daemon.xds}`);
    let responses = 0;
    a.stream.on('data', (b: Buffer) => {
      const r = DiscoveryResponse.decode(b) as unknown as { versionInfo: string; nonce: string };
      responses++;
      a.stream.write({ typeUrl: SE, versionInfo: r.versionInfo, responseNonce: r.nonce });
      a.stream.write({ typeUrl: SE });
    });
    a.stream.write({ typeUrl: SE });
    expect(await a.ended).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(responses).toBeLessThan(200);
    a.close();
  });

  it('ACKs of 3 MiB versions and NACKs of 3 MiB messages keep no label and little log', async () => {
    const a = attacker(`127.0.0.1:${daemon.xds}`);
    const huge = 'v'.repeat(3 << 20);
    let n = 0;
    a.stream.on('data', (b: Buffer) => {
      const r = DiscoveryResponse.decode(b) as unknown as { nonce: string };
      if (++n > 40) return;
      a.stream.write(n % 2 ? { typeUrl: SE, versionInfo: huge, responseNonce: r.nonce } : { typeUrl: SE, versionInfo: 'x', responseNonce: r.nonce, errorDetail: { code: 3, message: huge } });
      a.stream.write({ typeUrl: SE });
    });
    a.stream.write({ typeUrl: SE });
    await Promise.race([a.ended, sleep(3000)]);
    const text = await daemon.metrics();
    expect(text.length).toBeLessThan(200_000);
    expect(text).not.toContain('vvvvvvvv');
    a.close();
  });

  it('a reconnect storm of 2,000 streams writes a bounded log and leaves no stream behind', async () => {
    for (let i = 0; i < 2000; i += 100) {
      const batch = Array.from({ length: 100 }, () => attacker(`127.0.0.1:${daemon.xds}`));
      for (const a of batch) a.stream.write({ typeUrl: SE });
      await sleep(50);
      for (const a of batch) a.close();
    }
    const streams = async () =>
      (await daemon.metrics())
        .split('\n')
        .filter((l) => l.startsWith('dia_xds_connections{'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    await waitFor('only the good client left', async () => (await streams()) === 1, 30000);
  });

  it('a YAML alias bomb in the config center is refused; the daemon and its other rules stay', async () => {
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const bomb = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bomb}\n${levels.join('\n')}\nspec: {hosts: [a.example], http: [{route: [{destination: {host: a.example}}], headers: *a8}]}\n`;
    await writer.put('/dubbo/config/dubbo-istio-adapter/bomb', bomb);
    await waitFor('the bomb refused', async () => /dia_rule_documents\{state="rejected"\} 1/.test(await daemon.metrics()), 30000).catch(async (e: Error) => {
      throw new Error(
        `${e.message}\n${(await daemon.metrics())
          .split('\n')
          .filter((l) => l.startsWith('dia_rule'))
          .join('\n')}\n${readFileSync(daemon.log, 'utf8').slice(-3000)}`,
      );
    });
    expect(await (await fetch(`http://127.0.0.1:${daemon.admin}/readyz`)).text()).toMatch(/degraded/);
    await writer.remove('/dubbo/config/dubbo-istio-adapter/bomb');
  });

  it('a ZooKeeper that answers nothing (SIGSTOP) is reported stale while the last state is served', async () => {
    zk.pause();
    try {
      await waitFor('reported stale', async () => /source zk is stale/.test(await (await fetch(`http://127.0.0.1:${daemon.admin}/readyz`)).text()), 20000);
      expect(endpoints()).toBe(20 + changes);
    } finally {
      zk.resume();
    }
    await waitFor('synced again', async () => !/source zk is/.test(await (await fetch(`http://127.0.0.1:${daemon.admin}/readyz`)).text()), 30000);
  });

  it("a slow drain (providers deleted one by one) is held once it passes half of the window's largest count", async () => {
    const victims = Array.from({ length: 14 }, (_, i) => provider(`10.66.0.${i + 1}`));
    for (const v of victims) {
      await writer.unregister(v);
      await sleep(100); // each in its own commit (the debounce is 20 ms)
    }
    await waitFor('removals held', async () => /^dia_held_removals\{source="zk"\} [1-9]/m.test(await daemon.metrics()), 30000);
    // Ever more than half of what the window saw stays served while held.
    expect(endpoints()).toBeGreaterThan((20 + changes) / 2);
    // The registry gives them back: the hold ends without an operator.
    for (const v of victims) await writer.register(v, { ephemeral: false });
    await waitFor('nothing held', async () => /^dia_held_removals\{source="zk"\} 0$/m.test(await daemon.metrics()), 30000);
    await waitFor('all served again', () => endpoints() === 20 + changes, 30000);
  });

  it('a provider with a 60,000-character application and 3,000 distinct junk parameters add no metric series', async () => {
    await writer.register(provider('10.66.2.1', 'com.example.Long', `&application=${'a-'.repeat(30_000)}`), { ephemeral: false });
    await writer.mkdirp('/dubbo/com.example.Junk/providers');
    await writer.createMany(Array.from({ length: 3000 }, (_, i) => `/dubbo/com.example.Junk/providers/${encodeURIComponent(provider('10.66.3.1', 'com.example.Junk', `&side=s${i}x`))}`));
    await waitFor('the long provider served', () => [...good.resources(SE).values()].some((o) => JSON.stringify(o.spec).includes('"10.66.2.1"')), 30000);
    const series = (await daemon.metrics()).split('\n').filter((l) => l.startsWith('dia_rejected_inputs_total{'));
    expect(series.length).toBeLessThan(20);
    await writer.removeRecursive('/dubbo/com.example.Junk');
    await writer.removeRecursive('/dubbo/com.example.Long');
  });
});
