import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSource } from '../../src/registry/file';
import { waitFor } from '../testbed/net';
import { RecordingSink } from '../testbed/recording-sink';

// A busy machine polls files slowly: time enough for a few polls.
jest.setTimeout(30_000);

const url = (ip: string, iface = 'a.B') => `dubbo://${ip}:20880/${iface}?application=app`;

describe('file source, against a recording sink', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dia-file-'));
    file = path.join(dir, 'providers.yaml');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands on every interface as provider URLs, then each change of the file', async () => {
    writeFileSync(file, `providers:\n  a.B:\n    - ${url('10.0.0.1')}\n`);
    const sink = new RecordingSink();
    const source = new FileSource({ name: 'f', type: 'file', file: { path: file, pollMs: 50 } });
    await source.start(sink);
    try {
      expect(sink.state).toBe('synced');
      expect(sink.services).toEqual(new Map([['a.B', { kind: 'provider-url', entries: [url('10.0.0.1')] }]]));
      writeFileSync(file, `providers:\n  a.B:\n    - ${url('10.0.0.1')}\n    - ${url('10.0.0.2')}\n  c.D:\n    - ${url('10.0.0.3', 'c.D')}\n`);
      await waitFor('the change', () => sink.services.get('a.B')?.entries.length === 2 && sink.services.has('c.D'), 20000);
      expect(source.status()).toMatchObject({ state: 'synced', services: 2, entries: 3 });
    } finally {
      await source.stop();
    }
  });

  it('keeps the last state, stale with the reason, when the file breaks', async () => {
    writeFileSync(file, `providers:\n  a.B:\n    - ${url('10.0.0.1')}\n`);
    const sink = new RecordingSink();
    const source = new FileSource({ name: 'f', type: 'file', file: { path: file, pollMs: 50 } });
    await source.start(sink);
    try {
      writeFileSync(file, 'providers: [not, a, map');
      await waitFor('stale', () => sink.state === 'stale', 20000);
      expect(sink.reason).toContain(file);
      expect(sink.services.get('a.B')?.entries).toEqual([url('10.0.0.1')]); // nothing was taken away
      expect(sink.calls.filter((c) => c.startsWith('replaceAll'))).toHaveLength(1);
    } finally {
      await source.stop();
    }
  });

  it('fails, with nothing handed on, when the file never could be read', async () => {
    const sink = new RecordingSink();
    const source = new FileSource({ name: 'f', type: 'file', file: { path: path.join(dir, 'missing.yaml'), pollMs: 50 } });
    await source.start(sink);
    await source.stop();
    expect(sink.state).toBe('failed');
    expect(sink.calls).toEqual([]);
  });
});
