import zookeeper from 'node-zookeeper-client';

export type Client = zookeeper.Client;
export type Watcher = (event: zookeeper.Event) => void;

/** Children of a Dubbo registry root that are not interfaces (Dubbo's config center, metadata report, mapping). */
export const NOT_INTERFACES: ReadonlySet<string> = new Set(['config', 'mapping', 'metadata']);

const noNode = (err: unknown): boolean => (err as zookeeper.Exception).getCode?.() === zookeeper.Exception.NO_NODE;

/** Children with the watch armed; undefined when the node does not exist. */
export function getChildren(client: Client, path: string, watcher: Watcher): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    client.getChildren(path, watcher, (err, children) => {
      if (!err) resolve(children);
      else if (noNode(err)) resolve(undefined);
      else reject(err);
    });
  });
}

export function exists(client: Client, path: string, watcher: Watcher): Promise<boolean> {
  return new Promise((resolve, reject) => {
    client.exists(path, watcher, (err, stat) => (err ? reject(err) : resolve(!!stat)));
  });
}

/** Data as UTF-8 with the watch armed; undefined when the node does not exist. */
export function getData(client: Client, path: string, watcher: Watcher): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    client.getData(path, watcher, (err, data) => {
      if (!err) resolve(data ? data.toString('utf8') : '');
      else if (noNode(err)) resolve(undefined);
      else reject(err);
    });
  });
}

/**
 * Children, or data, of a node that may not exist yet: when it is missing, an exists watch
 * reports its creation, so nothing created in between is lost.
 */
export async function readChildren(client: Client, path: string, watcher: Watcher): Promise<string[] | undefined> {
  const children = await getChildren(client, path, watcher);
  if (children !== undefined) return children;
  return (await exists(client, path, watcher)) ? getChildren(client, path, watcher) : undefined;
}

export async function readData(client: Client, path: string, watcher: Watcher): Promise<string | undefined> {
  const data = await getData(client, path, watcher);
  if (data !== undefined) return data;
  return (await exists(client, path, watcher)) ? getData(client, path, watcher) : undefined;
}

/**
 * Watches one ZooKeeper session for silence. A server that keeps the TCP connection but answers
 * nothing (stopped, or stuck in a long pause) raises no ZooKeeper event: the client library sees
 * no disconnection. So a read of `/` goes out every third of the session timeout (never two at
 * once); when none has been answered for a whole session timeout, onSilent runs once, and when
 * answers come back, onAnswering. Returns the function that stops the watch.
 */
export function watchLiveness(client: Client, timeoutMs: number, onSilent: (silentMs: number) => void, onAnswering: () => void): () => void {
  let lastAnswerMs = Date.now();
  let inFlight = false;
  let silent = false;
  let stopped = false;
  const timer = setInterval(
    () => {
      const silentMs = Date.now() - lastAnswerMs;
      if (!silent && silentMs > timeoutMs) {
        silent = true;
        onSilent(silentMs);
      }
      if (inFlight) return;
      inFlight = true;
      client.exists('/', (err) => {
        inFlight = false;
        if (stopped || (err instanceof zookeeper.Exception && err.getCode() === zookeeper.Exception.CONNECTION_LOSS)) return;
        lastAnswerMs = Date.now();
        if (silent) {
          silent = false;
          onAnswering();
        }
      });
    },
    Math.max(100, Math.floor(timeoutMs / 3)),
  );
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
