import zookeeper from 'node-zookeeper-client';
import { watchLiveness, type Client } from '../../src/registry/zk-ops';
import { waitFor } from '../testbed/net';

/** A ZooKeeper client whose server answers reads only while `answering` is on, as a stopped server would not. */
function fakeClient() {
  const pending: ((err: Error | null) => void)[] = [];
  const c = {
    answering: true,
    reads: 0,
    exists(_path: string, cb: (err: Error | null) => void) {
      c.reads++;
      if (c.answering) setImmediate(() => cb(null));
      else pending.push(cb);
    },
    /** The server wakes up: the reads it held are answered. */
    wake() {
      c.answering = true;
      for (const cb of pending.splice(0)) cb(null);
    },
  };
  return c;
}

describe('watchLiveness (a ZooKeeper that keeps its connection but answers nothing)', () => {
  it('reports silence once after a whole session timeout, never stacks reads, and reports answers again', async () => {
    const c = fakeClient();
    const events: string[] = [];
    const stop = watchLiveness(
      c as unknown as Client,
      1000,
      () => events.push('silent'),
      () => events.push('answering'),
    );
    try {
      await new Promise((r) => setTimeout(r, 1200));
      expect(events).toEqual([]); // answered all along: nothing to report
      c.answering = false;
      await waitFor('silence noticed', () => events.length === 1, 5000);
      const reads = c.reads;
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.reads).toBe(reads); // one read outstanding, none stacked behind it
      expect(events).toEqual(['silent']);
      c.wake();
      await waitFor('answers noticed', () => events.length === 2, 5000);
      expect(events).toEqual(['silent', 'answering']);
    } finally {
      stop();
    }
  });

  it('does not take a lost connection for an answer', async () => {
    const events: string[] = [];
    const lost = { exists: (_p: string, cb: (err: unknown) => void) => setImmediate(() => cb(new zookeeper.Exception(zookeeper.Exception.CONNECTION_LOSS, 'lost', Error))) };
    const stop = watchLiveness(
      lost as unknown as Client,
      200,
      () => events.push('silent'),
      () => events.push('answering'),
    );
    try {
      await waitFor('silence noticed', () => events.length === 1, 5000);
      expect(events).toEqual(['silent']);
    } finally {
      stop();
    }
  });
});
