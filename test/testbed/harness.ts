import { startDaemon, type StartedDaemon } from './daemon';
import { EnvoyProbe } from './envoy-probe';
import { Istiod, type IstiodOptions } from './istiod';
import { NacosServer } from './nacos-server';
import { IstiodLikeClient } from './xds-client';
import { ZkWriter } from './zk-client';
import { ZookeeperServer } from './zookeeper-server';

/**
 * The real parts a suite runs against, started in a few lines and stopped in reverse order of
 * start: ZooKeeper, Nacos, the daemon, istiods, probes and xDS clients. `suiteStack()` in a
 * describe block stops everything in its afterAll, whatever beforeAll got to; anything else a
 * suite starts can join with `own`. A part that fails to stop does not keep the others running:
 * every stop is tried, and the first failure is thrown at the end.
 */
export class Stack {
  private readonly stops: { what: string; stop: () => unknown }[] = [];

  /** Stops `value` with `stop` when the stack stops (after everything started later). */
  own<T>(what: string, value: T, stop: (v: T) => unknown): T {
    this.stops.push({ what, stop: () => stop(value) });
    return value;
  }

  async zookeeper(): Promise<ZookeeperServer> {
    const zk = new ZookeeperServer();
    this.own('zookeeper', zk, (z) => z.destroy());
    return zk.start();
  }

  /** A ZooKeeper client that writes what Dubbo would; closed with the stack. */
  async zkWriter(connect: string, opts?: Parameters<typeof ZkWriter.connect>[1]): Promise<ZkWriter> {
    return this.own('zookeeper writer', await ZkWriter.connect(connect, opts), (w) => w.close());
  }

  async nacos(opts?: ConstructorParameters<typeof NacosServer>[0]): Promise<NacosServer> {
    const nacos = new NacosServer(opts);
    this.own('nacos', nacos, (n) => n.destroy());
    return nacos.start();
  }

  /** The daemon on a test config (startDaemon: admin and views on free ports, a short debounce). */
  async daemon(partial: Record<string, unknown>): Promise<StartedDaemon> {
    const started = await startDaemon(partial);
    return this.own('daemon', started, (s) => s.daemon.stop());
  }

  async istiod(opts: IstiodOptions): Promise<Istiod> {
    const istiod = new Istiod(opts);
    this.own('istiod', istiod, (i) => i.destroy());
    return istiod.start();
  }

  /** A sidecar-like xDS client of an istiod (CDS and EDS; LDS and routes when asked). */
  probe(istiod: Istiod, opts?: Parameters<EnvoyProbe['connect']>[0]): EnvoyProbe {
    return this.own('probe', new EnvoyProbe(istiod.xdsAddress), (p) => p.close()).connect(opts);
  }

  /** An istiod-like MCP client of the daemon's view at `address`. */
  xdsClient(address: string): IstiodLikeClient {
    return this.own('xds client', new IstiodLikeClient(address), (c) => c.close()).connect();
  }

  async stop(): Promise<void> {
    let first: unknown;
    for (const { what, stop } of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        first ??= new Error(`stopping ${what}: ${(err as Error).message}`);
      }
    }
    if (first) throw first;
  }
}

/** A stack for one describe block, stopped in its afterAll. */
export function suiteStack(): Stack {
  const stack = new Stack();
  afterAll(() => stack.stop());
  return stack;
}

/** Runs `body` with a stack of its own, stopped when the body ends, however it ends. */
export async function withStack<T>(body: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = new Stack();
  let result: T;
  try {
    result = await body(stack);
  } catch (err) {
    await stack.stop().catch(() => undefined); // the body's failure is the one to report
    throw err;
  }
  await stack.stop();
  return result;
}
