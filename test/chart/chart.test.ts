import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { Daemon } from '../../src/daemon';
import { parseConfig } from '../../src/config/load';
import { CHART, helm, notes, template, valueArgs, type Manifest } from '../testbed/helm';
import { freePort, waitFor } from '../testbed/net';
import { ZkWriter } from '../testbed/zk-client';
import { ZookeeperServer } from '../testbed/zookeeper-server';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../..');
const MULTI = path.join(CHART, 'ci/multi-cluster-values.yaml');
const byKind = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind);
const configOf = (ms: Manifest[]) => byKind(ms, 'ConfigMap')[0].data!['adapter.yaml'];

function validateManifests(ms: Manifest[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'validate-manifests.mjs')], { input: ms.map((m) => yaml.dump(m)).join('---\n'), encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

describe('the Helm chart', () => {
  it.each([
    ['default values', []],
    ['the multi-cluster example', ['-f', MULTI]],
  ])('passes helm lint with %s', (_name, args) => {
    const r = helm(['lint', '--strict', CHART, ...args]);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining('0 chart(s) failed') });
  });

  it.each([
    ['default values', []],
    ['the multi-cluster example', [MULTI]],
  ])('renders valid Kubernetes objects with %s (checked against the Kubernetes schemas)', (_name, values) => {
    const ms = template(values);
    expect(ms.map((m) => m.kind).sort()).toEqual(
      values.length ? ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceMonitor'] : ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service'],
    );
    const v = validateManifests(ms);
    expect(v).toEqual({ code: 0, out: expect.stringContaining('0 problems') });
  });

  it('the schema check fails on a bad manifest, so the check above means something', () => {
    const ms = template();
    const deployment = byKind(ms, 'Deployment')[0] as unknown as { spec: { replicas: unknown } };
    deployment.spec.replicas = 'three';
    expect(validateManifests(ms).code).toBe(1);
  });

  it('renders a config the daemon accepts, for both value sets', () => {
    for (const values of [[], [MULTI]]) {
      const config = parseConfig(configOf(template(values)));
      expect(config.clusters.every((c) => c.listener.address === '0.0.0.0')).toBe(true);
    }
    const multi = parseConfig(configOf(template([MULTI])));
    expect(multi.rules.sources.map((s) => s.name)).toEqual(['zk-rules']);
    expect(() => new Daemon(multi)).not.toThrow(); // the inline TrafficPolicy is accepted
    expect(multi.clusters.map((c) => [c.name, c.listener.port, c.revision ?? null, !!c.listener.tls])).toEqual([
      ['east', 15051, 'east', true],
      ['west', 15052, null, true],
    ]);
    expect(multi.clusters[0].overrides).toEqual({ network: 'net-east', locality: 'us-east/us-east-1', labels: { 'topology.istio.io/cluster': 'east' } });
    expect(multi.render.endpointMode).toBe('inline');
    expect(multi.sources.map((src) => src.type)).toEqual(['zookeeper', 'nacos']);
  });

  it('wires ports, probes, config, TLS, secrets and security the way the daemon expects', () => {
    const ms = template([MULTI]);
    const dep = byKind(ms, 'Deployment')[0] as unknown as {
      spec: {
        replicas: number;
        template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> & { containers: Record<string, unknown>[]; volumes: Record<string, unknown>[] } };
      };
    };
    const pod = dep.spec.template.spec;
    const c = pod.containers[0] as {
      args: string[];
      ports: { name: string; containerPort: number }[];
      env: unknown[];
      readinessProbe: unknown;
      livenessProbe: unknown;
      securityContext: Record<string, unknown>;
      volumeMounts: { mountPath: string }[];
    };
    expect(dep.spec.replicas).toBe(3);
    expect(c.args).toEqual(['run', '--config', '/etc/dubbo-istio-adapter/config/adapter.yaml']);
    expect(c.ports.map((p) => [p.name, p.containerPort])).toEqual([
      ['http-admin', 15080],
      ['xds-0', 15051],
      ['xds-1', 15052],
    ]);
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'http-admin' } });
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http-admin' } });
    expect(c.env).toEqual([
      { name: 'ZK_DIGEST', valueFrom: { secretKeyRef: { name: 'zookeeper-digest', key: 'credentials' } } },
      { name: 'NACOS_PASSWORD', valueFrom: { secretKeyRef: { name: 'nacos-credentials', key: 'password' } } },
    ]);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(c.volumeMounts.map((m) => m.mountPath).sort()).toEqual(['/etc/dubbo-istio-adapter/config', '/etc/dubbo-istio-adapter/tls']);
    expect(pod.affinity).toMatchObject({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [expect.objectContaining({ topologyKey: 'kubernetes.io/hostname' })] } });
    expect(dep.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
    const svc = byKind(ms, 'Service')[0] as unknown as { spec: { ports: { name: string; port: number; targetPort: string }[] } };
    expect(svc.spec.ports.map((p) => [p.name, p.port, p.targetPort])).toEqual([
      ['http-admin', 15080, 'http-admin'],
      ['grpc-xds-east', 15051, 'xds-0'],
      ['grpc-xds-west', 15052, 'xds-1'],
    ]);
    // The TLS files the config names are where the Secret is mounted.
    const config = parseConfig(configOf(ms));
    expect(config.clusters[0].listener.tls).toEqual({ certFile: '/etc/dubbo-istio-adapter/tls/tls.crt', keyFile: '/etc/dubbo-istio-adapter/tls/tls.key' });
    expect(pod.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'dubbo-istio-adapter-tls' } });
  });

  it('is safe by default: a NetworkPolicy lets only istiod reach the MCP ports and the monitoring namespace the admin port', () => {
    const [np] = byKind(template([MULTI]), 'NetworkPolicy') as unknown as {
      spec: { podSelector: unknown; policyTypes: string[]; ingress: { from: Record<string, unknown>[]; ports: { port: number }[] }[] };
    }[];
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress[0]).toEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { app: 'istiod' } } }],
      ports: [
        { port: 15051, protocol: 'TCP' },
        { port: 15052, protocol: 'TCP' },
      ],
    });
    expect(np.spec.ingress[1]).toEqual({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 15080, protocol: 'TCP' }] });
    expect(byKind(template([{ networkPolicy: { enabled: false } }]), 'NetworkPolicy')).toEqual([]);
  });

  it('passes the admin token from a Secret, and the daemon then requires it', () => {
    const ms = template([{ admin: { tokenSecret: { name: 'adapter-admin' } } }]);
    expect(parseConfig(configOf(ms)).admin.tokenEnv).toBe('DIA_ADMIN_TOKEN');
    const container = (byKind(ms, 'Deployment')[0] as unknown as { spec: { template: { spec: { containers: { env: unknown[] }[] } } } }).spec.template.spec.containers[0];
    expect(container.env).toContainEqual({ name: 'DIA_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'adapter-admin', key: 'token' } } });
    expect(parseConfig(configOf(template())).admin.tokenEnv).toBeUndefined();
  });

  it('rejects bad values at install time, naming the value', () => {
    const bad = (values: Record<string, unknown>) => {
      const r = helm(['template', 'rel', CHART, ...valueArgs([values])]);
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    expect(bad({ clusters: [{ name: 'east', port: 0 }] })).toMatch(/clusters\/0\/port.*minimum/);
    expect(bad({ render: { endpointMode: 'bogus' } })).toMatch(/render\/endpointMode.*workloadentry/);
    expect(bad({ clusters: [{ name: 'East_1', port: 15051 }] })).toMatch(/clusters\/0\/name/);
    expect(bad({ tls: { enabled: true } })).toMatch(/tls\/secretName/);
    expect(bad({ sources: [{ name: 'zk', type: 'zookeeper', zookeeper: { connect: 'zk:2181', auth: { scheme: 'digest', credentials: 'u:p' } } }] })).toMatch(/sources\/0\/zookeeper\/auth/);
    expect(bad({ sources: [{ name: 'n', type: 'nacos', nacos: { serverAddr: 'nacos:8848', auth: { username: 'u', password: 'p' } } }] })).toMatch(/sources\/0\/nacos\/auth/);
  });

  it('prints the exact configSources snippet for each cluster view in its NOTES', () => {
    const text = notes([MULTI]);
    const ms = template([MULTI]);
    const svc = byKind(ms, 'Service')[0];
    for (const [view, port] of [
      ['east', 15051],
      ['west', 15052],
    ] as const) {
      const at = text.indexOf(`cluster view "${view}"`);
      const snippet = text.slice(text.indexOf('meshConfig:', at), text.indexOf('- address: k8s://', at) + '- address: k8s://'.length).replace(/<PEM[^>]*>/, 'PEM');
      const mesh = yaml.load(snippet) as { meshConfig: { configSources: { address: string; tlsSettings?: { mode: string } }[] } };
      expect(mesh.meshConfig.configSources).toEqual([
        { address: `xds://${svc.metadata.name}.istio-system.svc:${port}`, tlsSettings: { mode: 'SIMPLE', caCertificates: 'PEM\n' } },
        { address: 'k8s://' },
      ]);
    }
    expect(text).toContain('its REVISION must be east');
  });
});

describe('the daemon on the config the chart renders', () => {
  let zk: ZookeeperServer;
  let writer: ZkWriter;

  beforeAll(async () => {
    zk = await new ZookeeperServer().start();
    writer = await ZkWriter.connect(zk.connect);
    await writer.register('dubbo://10.9.0.1:20880/com.example.HelmService?application=helm&interface=com.example.HelmService&side=provider&timestamp=1700000000000', { ephemeral: false });
  });
  afterAll(async () => {
    await writer?.close();
    await zk?.destroy();
  });

  it('starts, reads ZooKeeper and serves the provider', async () => {
    const admin = await freePort();
    const xds = await freePort();
    const ms = template([{ sources: [{ name: 'zk', type: 'zookeeper', zookeeper: { connect: zk.connect } }], clusters: [{ name: 'default', port: xds }], admin: { port: admin } }]);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dia-chart-')), 'adapter.yaml');
    writeFileSync(file, configOf(ms));
    const proc = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'run', '--config', file], { stdio: 'ignore' });
    try {
      await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200, 30000, 200);
      // The chart's default is inline mode: the provider is an endpoint of its ServiceEntry.
      const snap = await (await fetch(`http://127.0.0.1:${admin}/debug/snapshot?kind=ServiceEntry&format=json`)).text();
      expect(snap).toContain('10.9.0.1');
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
