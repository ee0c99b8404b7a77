/**
 * The MetadataService client (issue 19): Dubbo's frames and Hessian values, and the fetcher's
 * promises: one call per revision, the next instance when one fails, only allowed addresses,
 * bounded concurrency. Providers that answer garbage, answer slowly or refuse are servers on
 * loopback; a real Dubbo provider answers in test/e2e/dubbo-estate.test.ts.
 */
import { decodeResponse, encodeRequest, HEADER_BYTES, metadataInfoJson, readFrame } from '../../src/registry/dubbo-codec';
import { parseMetadataInfo } from '../../src/dubbo/instance';
import { callMetadataService, MetadataFetcher, metadataServiceTarget, type MetadataServiceTarget } from '../../src/registry/metadata-service';
import { dubboResponse, fakeMetadataService, metadataAnswer, metadataInfo } from '../testbed/metadata-provider';

const CFG = { enabled: true, allowedCidrs: ['127.0.0.0/8'], timeoutMs: 500, concurrency: 2, retryMs: 1000, maxBytes: 65536, pendingDegradedMs: 1000 };

const SERVICE_INFO_APP = 'greeting-e';
const METADATA = metadataInfo(SERVICE_INFO_APP, 'r1', ['dia.GreetingService:1.0.0']);
const response = dubboResponse;
const provider = fakeMetadataService;
const target = (port: number, host = '127.0.0.1'): MetadataServiceTarget => ({ host, port, protocol: 'dubbo', version: '1.0.0' });

describe('Dubbo codec', () => {
  it('frames a getMetadataInfo request as DubboCodec does', () => {
    const req = encodeRequest({
      id: 7n,
      service: 'org.apache.dubbo.metadata.MetadataService',
      version: '1.0.0',
      method: 'getMetadataInfo',
      parameterTypes: 'Ljava/lang/String;',
      args: ['r1'],
      attachments: { group: 'greeting-e' },
    });
    expect(req.readUInt16BE(0)).toBe(0xdabb);
    expect(req[2]).toBe(0xc2); // request, two-way, Hessian 2
    expect(req.readBigInt64BE(4)).toBe(7n);
    expect(req.readInt32BE(12)).toBe(req.length - HEADER_BYTES);
  });

  it("reads a MetadataInfo answer into the metadata report's JSON shape", () => {
    const r = readFrame(metadataAnswer(7n, METADATA), 65536);
    if (!r || 'error' in r) throw new Error('no frame');
    const value = decodeResponse(r.frame);
    if ('error' in value) throw new Error(value.error);
    const json = metadataInfoJson(value.value);
    if (typeof json !== 'string') throw new Error(json.error);
    expect(parseMetadataInfo(json)).toMatchObject({
      app: 'greeting-e',
      revision: 'r1',
      services: [{ name: 'dia.GreetingService', version: '1.0.0', protocol: 'dubbo', port: 20880, params: { application: 'greeting-e' } }],
    });
  });

  it('says why when the answer is an error status, an exception, garbage or too large', () => {
    const frame = (b: Buffer) => {
      const r = readFrame(b, 65536);
      if (!r || 'error' in r) throw new Error('no frame');
      return r.frame;
    };
    expect(decodeResponse(frame(response(1n, ['Service not found'], 60)))).toEqual({ error: 'service not found: Service not found' });
    expect(decodeResponse(frame(response(1n, [0, { $class: 'java.lang.IllegalStateException', $: { detailMessage: 'no such revision' } }])))).toEqual({
      error: 'the provider threw: no such revision',
    });
    const garbage = Buffer.concat([response(1n, []).subarray(0, HEADER_BYTES - 4), Buffer.from([0, 0, 0, 3, 0xff, 0xfe, 0xfd])]);
    expect(decodeResponse(frame(garbage))).toEqual({ error: expect.stringMatching(/^undecodable response|unknown response flag/) });
    expect(readFrame(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 65536)).toEqual({ error: 'not a Dubbo frame (bad magic)' });
    expect(readFrame(response(1n, ['x'.repeat(100)]), 50)).toEqual({ error: expect.stringContaining('at most 50') });
  });

  it('reads the target from dubbo.metadata-service.url-params, as Dubbo 3.3 writes it', () => {
    const metadata = {
      'dubbo.metadata-service.url-params': '{"prefer.serialization":"hessian2,fastjson2","version":"1.0.0","dubbo":"2.0.2","release":"3.3.5","side":"provider","port":"20882","protocol":"dubbo"}',
    };
    expect(metadataServiceTarget('198.18.0.6', metadata)).toEqual({ host: '198.18.0.6', port: 20882, protocol: 'dubbo', version: '1.0.0' });
    expect(metadataServiceTarget('198.18.0.6', {})).toEqual({ error: expect.stringContaining('names no MetadataService') });
  });
});

describe('MetadataFetcher', () => {
  it('calls once per application and revision, and asks the next instance when one fails', async () => {
    const good = await provider((id) => metadataAnswer(id, METADATA));
    const garbage = await provider(() => Buffer.from('garbage that is no Dubbo frame'));
    try {
      const f = new MetadataFetcher(CFG);
      const targets = [target(garbage.port), target(good.port)];
      const [a, b] = await Promise.all([f.get('greeting-e', 'r1', targets), f.get('greeting-e', 'r1', targets)]);
      expect(a.content).toContain('"app":"greeting-e"');
      expect(b).toEqual(a);
      expect(await f.get('greeting-e', 'r1', targets)).toEqual(a);
      expect([garbage.requests, good.requests]).toEqual([1, 1]);
    } finally {
      good.close();
      garbage.close();
    }
  });

  it('gives up on a slow or refusing provider with the reason, and asks again only after retryMs', async () => {
    const slow = await provider(() => undefined);
    const refused = await provider(() => undefined);
    refused.close();
    try {
      const f = new MetadataFetcher(CFG);
      const t0 = Date.now();
      const r = await f.get('app', 'r2', [target(slow.port), target(refused.port)], t0);
      expect(r.content).toBeUndefined();
      expect(r.reason).toContain('no answer within 500 ms');
      expect(r.reason).toMatch(/ECONNREFUSED|closed/);
      // Within retryMs the failure is the answer; after it, the providers are asked again.
      expect(await f.get('app', 'r2', [target(slow.port)], t0 + 10)).toBe(r);
      expect(slow.requests).toBe(1);
      await f.get('app', 'r2', [target(slow.port)], Date.now() + CFG.retryMs);
      expect(slow.requests).toBe(2);
    } finally {
      slow.close();
    }
  });

  it('never dials an address outside allowedCidrs, and bounds the calls in flight', async () => {
    let calls = 0;
    let inFlight = 0;
    let most = 0;
    const fake = async (t: MetadataServiceTarget) => {
      calls++;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return t.host === '127.0.0.1' ? '{"app":"x","services":{}}' : { error: 'no' };
    };
    const f = new MetadataFetcher(CFG, undefined, fake);
    const r = await f.get('app', 'r3', [target(1, '10.20.0.1'), target(1, '30.221.146.35')]);
    expect(r.reason).toBe('MetadataService: 10.20.0.1: not in metadataService.allowedCidrs; 30.221.146.35: not in metadataService.allowedCidrs');
    expect(calls).toBe(0);
    await Promise.all(Array.from({ length: 6 }, (_, i) => f.get('app', `rev-${i}`, [target(1)])));
    expect(calls).toBe(6);
    expect(most).toBe(CFG.concurrency);
  });

  it('asks at most three instances per attempt, and the next ones at the next attempt', async () => {
    const asked: number[] = [];
    const f = new MetadataFetcher(CFG, undefined, async (t) => (asked.push(t.port), { error: 'refused' }));
    const targets = Array.from({ length: 10 }, (_, i) => target(i + 1));
    await f.get('app', 'r4', targets, 0);
    expect(asked).toEqual([1, 2, 3]);
    await f.get('app', 'r4', targets, Date.now() + CFG.retryMs);
    expect(asked).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a MetadataService over another protocol with a reason', async () => {
    expect(await callMetadataService({ host: '127.0.0.1', port: 1, protocol: 'rest', version: '1.0.0' }, 'a', 'r', 100, 1024)).toEqual({
      error: 'a MetadataService over rest is not supported (dubbo and tri are)',
    });
  });
});
