import zookeeper from 'node-zookeeper-client';

export const OPEN_ACL = (zookeeper.ACL as unknown as { OPEN_ACL_UNSAFE: zookeeper.ACL[] }).OPEN_ACL_UNSAFE;

/**
 * A test-side ZooKeeper client that writes znodes exactly as a Dubbo provider does:
 * /dubbo/{interface}/providers/{URL-encoded provider URL}, ephemeral or persistent.
 */
export class ZkWriter {
  private constructor(readonly client: zookeeper.Client) {}

  static async connect(connect: string, opts: { auth?: string } = {}): Promise<ZkWriter> {
    const client = zookeeper.createClient(connect, { sessionTimeout: 10000, spinDelay: 200, retries: 5 });
    if (opts.auth) client.addAuthInfo('digest', Buffer.from(opts.auth));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`cannot connect to ${connect}`)), 15000);
      client.once('connected', () => {
        clearTimeout(t);
        resolve();
      });
      client.connect();
    });
    return new ZkWriter(client);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.client.once('disconnected', () => resolve());
      this.client.close();
      setTimeout(resolve, 500);
    });
  }

  mkdirp(path: string, acls?: zookeeper.ACL[]): Promise<void> {
    return new Promise((resolve, reject) => this.client.mkdirp(path, undefined as unknown as Buffer, acls ?? OPEN_ACL, zookeeper.CreateMode.PERSISTENT, (err) => (err ? reject(err) : resolve())));
  }

  create(path: string, mode = zookeeper.CreateMode.PERSISTENT, acls?: zookeeper.ACL[]): Promise<void> {
    return new Promise((resolve, reject) => this.client.create(path, null as unknown as Buffer, acls ?? OPEN_ACL, mode, (err) => (err ? reject(err) : resolve())));
  }

  remove(path: string): Promise<void> {
    return new Promise((resolve, reject) => this.client.remove(path, -1, (err) => (err ? reject(err) : resolve())));
  }

  children(path: string): Promise<string[]> {
    return new Promise((resolve, reject) => this.client.getChildren(path, (err, c) => (err ? reject(err) : resolve(c))));
  }

  async removeRecursive(path: string): Promise<void> {
    for (const c of await this.children(path)) await this.removeRecursive(`${path}/${c}`);
    await this.remove(path);
  }

  /** Registers a provider as Dubbo does: an ephemeral child named by the URL-encoded URL. */
  async register(url: string, opts: { root?: string; ephemeral?: boolean } = {}): Promise<string> {
    const iface = interfaceOf(url);
    const dir = `/${opts.root ?? 'dubbo'}/${iface}/providers`;
    await this.mkdirp(dir);
    const node = `${dir}/${encodeURIComponent(url)}`;
    await this.create(node, opts.ephemeral === false ? zookeeper.CreateMode.PERSISTENT : zookeeper.CreateMode.EPHEMERAL);
    return node;
  }

  async unregister(url: string, root = 'dubbo'): Promise<void> {
    await this.remove(`/${root}/${interfaceOf(url)}/providers/${encodeURIComponent(url)}`);
  }

  /** Writes a znode's data (UTF-8), creating it and its parents if needed. */
  async put(path: string, data: string, mode = zookeeper.CreateMode.PERSISTENT): Promise<void> {
    const buf = Buffer.from(data, 'utf8');
    const set = () =>
      new Promise<boolean>((resolve, reject) =>
        this.client.setData(path, buf, -1, (err) => (!err ? resolve(true) : (err as zookeeper.Exception).getCode() === zookeeper.Exception.NO_NODE ? resolve(false) : reject(err))),
      );
    if (await set()) return;
    await this.mkdirp(path.slice(0, path.lastIndexOf('/')));
    await new Promise<void>((resolve, reject) => this.client.create(path, buf, OPEN_ACL, mode, (err) => (err ? reject(err) : resolve())));
  }

  /** Writes fixture znodes (path -> data) in order. */
  async putAll(nodes: Record<string, string>, mode = zookeeper.CreateMode.PERSISTENT): Promise<void> {
    for (const [path, data] of Object.entries(nodes)) await this.put(path, data, /^\/services\//.test(path) ? mode : zookeeper.CreateMode.PERSISTENT);
  }

  /** Creates many znodes in multi-op transactions (ZooKeeper's atomic batches). */
  async createMany(paths: string[], batch = 500): Promise<void> {
    for (let i = 0; i < paths.length; i += batch) {
      const tx = this.client.transaction();
      for (const p of paths.slice(i, i + batch)) tx.create(p, zookeeper.CreateMode.PERSISTENT);
      await new Promise<void>((resolve, reject) => tx.commit((err) => (err ? reject(err) : resolve())));
    }
  }
}

export function interfaceOf(url: string): string {
  const m = /interface=([^&]+)/.exec(url) ?? /^[a-z]+:\/\/[^/]+\/([^?]+)/.exec(url);
  if (!m) throw new Error(`no interface in ${url}`);
  return decodeURIComponent(m[1]);
}
