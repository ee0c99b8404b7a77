import type { Daemon } from '../../src/daemon';
import { xdsConnections, zkRuleSource, zkSource } from './daemon';
import type { EnvoyProbe } from './envoy-probe';
import { Stack } from './harness';
import { converged } from './expect-istio';
import type { Istiod } from './istiod';
import { waitFor } from './net';
import type { ZkWriter } from './zk-client';
import type { ZookeeperServer } from './zookeeper-server';

export interface IstiodStackOptions {
  /** Writes the registry before the daemon starts. */
  seed?: (writer: ZkWriter) => Promise<void>;
  /** Daemon config beside its ZooKeeper source (clusters, render, ...). */
  daemon?: Record<string, unknown>;
  /** The cluster views istiod dials as config sources; default: the one named "default". */
  istiodDials?: string[];
  /** The view istiod must converge on before the tests start (default: the first it dials). */
  convergeOn?: string;
  /** istiod's tlsSettings towards every view it dials (the views must listen with TLS). */
  istiodTls?: Record<string, unknown>;
  /** Read rules from the same ZooKeeper, as its config center. */
  rules?: boolean;
  /** How the probe subscribes beyond CDS and EDS (listeners: LDS too). */
  probe?: { listeners?: boolean; routes?: string[] };
}

/**
 * The end-to-end stack: a real ZooKeeper, a writer, the daemon reading it, and a real istiod
 * dialling the daemon with a probe proxy on istiod, converged on what the daemon serves.
 * start() in beforeAll, stop() in afterAll: stop() tears down whatever start() got to, in reverse.
 */
export class IstiodStack {
  zk?: ZookeeperServer;
  writer?: ZkWriter;
  daemon?: Daemon;
  admin = '';
  istiod?: Istiod;
  probe?: EnvoyProbe;
  private readonly parts = new Stack();

  async start(opts: IstiodStackOptions = {}): Promise<this> {
    const zk = (this.zk = await this.parts.zookeeper());
    this.writer = await this.parts.zkWriter(zk.connect);
    await opts.seed?.(this.writer);
    const rules = opts.rules ? { rules: { sources: [zkRuleSource(zk.connect)] } } : {};
    const started = await this.parts.daemon({ sources: [zkSource(zk.connect)], ...rules, ...opts.daemon });
    const daemon = (this.daemon = started.daemon);
    this.admin = started.admin;
    const dials = opts.istiodDials ?? ['default'];
    this.istiod = await this.parts.istiod({ configSources: dials.map((c) => ({ address: `xds://${started.viewAddress(c)}`, ...(opts.istiodTls ? { tlsSettings: opts.istiodTls } : {}) })) });
    this.probe = this.parts.probe(this.istiod, opts.probe);
    await waitFor(
      'istiod dialled every view it was given',
      async () => {
        const open = await xdsConnections(this.admin);
        return dials.every((c) => open.some((x) => x.cluster === c));
      },
      60000,
    );
    await converged(this.istiod, this.probe, daemon, opts.convergeOn ?? dials[0]);
    return this;
  }

  stop(): Promise<void> {
    return this.parts.stop();
  }
}
