import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xdsConnections } from '../testbed/daemon';
import { outbound } from '../testbed/envoy-probe';
import { IstiodStack } from '../testbed/stack';

jest.setTimeout(240_000);

const url = (ip: string) => `dubbo://${ip}:20880/com.example.TlsService?application=tls&interface=com.example.TlsService&side=provider&timestamp=1700000000000`;

/**
 * MCP over TLS, as docs/istio.md tells an operator to set it up: the adapter's listener with a
 * certificate, istiod's configSources entry with tlsSettings mode SIMPLE and the CA as PEM text.
 * A self-signed certificate for 127.0.0.1 (the address istiod dials) stands in for the CA.
 */
describe('istiod reading the adapter over TLS (mode SIMPLE)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dia-tls-'));
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  const stack = new IstiodStack();

  beforeAll(async () => {
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=dubbo-istio-adapter', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    await stack.start({
      seed: async (w) => {
        await w.register(url('10.7.9.1'), { ephemeral: false });
      },
      daemon: { clusters: [{ name: 'default', listener: { address: '127.0.0.1', port: 0, tls: { certFile: cert, keyFile: key } } }] },
      istiodTls: { mode: 'SIMPLE', caCertificates: readFileSync(cert, 'utf8') },
    });
  });
  afterAll(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves istiod over TLS: the stream is up and the provider reaches its EDS', async () => {
    expect((await xdsConnections(stack.admin)).some((c) => c.cluster === 'default')).toBe(true);
    expect(stack.probe!.endpointsOf(outbound(20880, 'com.example.tlsservice'))?.map((e) => e.address)).toEqual(['10.7.9.1']);
  });
});
