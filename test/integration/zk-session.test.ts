import { ZookeeperSource } from '../../src/registry/zookeeper';
import { ZookeeperRuleSource } from '../../src/registry/zookeeper-rules';
import { ZookeeperSessions } from '../../src/registry/zk-session';
import type { ZookeeperSourceConfig } from '../../src/config/types';
import { testConfig } from '../testbed/config';
import { zkRuleSource, zkSource } from '../testbed/daemon';
import { suiteStack } from '../testbed/harness';
import { sleep, waitFor } from '../testbed/net';
import { RecordingSink } from '../testbed/recording-sink';
import { TcpProxy } from '../testbed/tcp-proxy';
import type { ZkWriter } from '../testbed/zk-client';

jest.setTimeout(90_000);

const provider = (ip: string, iface = 'com.example.Shared') => `dubbo://${ip}:20880/${iface}?application=shared&interface=${iface}&side=provider`;
const RULE = '/dubbo/config/dubbo/com.example.Shared.configurators';
const rule = (ip: string) => `configVersion: v3.0\nscope: service\nkey: com.example.Shared\nconfigs:\n  - addresses: ["${ip}:20880"]\n    parameters: {disabled: true}\n`;

/**
 * The registry and the config center on one ZooKeeper share one session: both sources against
 * recording sinks, through a relay that can cut the connection for longer than the session lasts.
 */
describe('one ZooKeeper session for a registry source and a rule source', () => {
  const stack = suiteStack();
  let writer: ZkWriter;
  let relay: TcpProxy;
  let registry: ZookeeperSource;
  let rules: ZookeeperRuleSource;
  const registrySink = new RecordingSink();
  const ruleSink = new RecordingSink();
  const sessionOf = (s: { status(): { details?: Record<string, unknown> } }) => s.status().details!.sessionId as string | undefined;

  beforeAll(async () => {
    const zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    await writer.register(provider('10.60.0.1'), { ephemeral: false });
    await writer.put(RULE, rule('10.60.0.1'));
    relay = stack.own('relay', await new TcpProxy(zk.port).start(), (r) => r.stop());
    const config = testConfig({ sources: [zkSource(relay.address)], rules: { sources: [zkRuleSource(relay.address)] } });
    const sessions = new ZookeeperSessions();
    registry = stack.own('registry source', new ZookeeperSource(config.sources[0] as ZookeeperSourceConfig, {}, sessions), (s) => s.stop());
    rules = stack.own('rule source', new ZookeeperRuleSource(config.rules.sources[0] as ZookeeperSourceConfig, config.rules, sessions), (s) => s.stop());
    await registry.start(registrySink);
    rules.start(ruleSink);
    await waitFor('both synced', () => registrySink.state === 'synced' && ruleSink.state === 'synced', 30000);
  });

  it('reads both on one session', () => {
    expect(sessionOf(registry)).toMatch(/^[0-9a-f]{16}$/);
    expect(sessionOf(rules)).toBe(sessionOf(registry));
    expect(registrySink.services.get('com.example.Shared')).toEqual({ kind: 'provider-url', entries: [encodeURIComponent(provider('10.60.0.1'))] });
    expect(ruleSink.documents.get(RULE)).toBe(rule('10.60.0.1'));
  });

  it('after a cut longer than the session, both are stale, then both re-read on one new session what changed meanwhile', async () => {
    const old = sessionOf(registry);
    await relay.cut();
    await waitFor('both stale', () => registrySink.state === 'stale' && ruleSink.state === 'stale', 15000);
    await writer.register(provider('10.60.0.2'), { ephemeral: false });
    await writer.put(RULE, rule('10.60.0.2'));
    await sleep(4000 + 1000); // past the session timeout: the server expires the session
    await relay.heal();
    await waitFor('both synced again', () => registrySink.state === 'synced' && ruleSink.state === 'synced', 30000);
    expect(sessionOf(registry)).not.toBe(old);
    expect(sessionOf(rules)).toBe(sessionOf(registry));
    expect(registrySink.services.get('com.example.Shared')?.entries).toHaveLength(2);
    expect(ruleSink.documents.get(RULE)).toBe(rule('10.60.0.2'));
  });

  it('keeps the session for the registry when the rule source stops', async () => {
    const session = sessionOf(registry);
    await rules.stop();
    await writer.register(provider('10.60.0.3'), { ephemeral: false });
    await waitFor('the registry still watches', () => registrySink.services.get('com.example.Shared')?.entries.length === 3, 15000);
    expect(sessionOf(registry)).toBe(session);
  });
});
