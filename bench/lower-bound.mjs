// The least any ZooKeeper reader of the estate must do, as a bare script with the daemon's
// ZooKeeper client: connect, list /dubbo, then list every providers node. bench/run.ts times it
// from spawning this process to the line it prints, as it times the daemon from its spawn.
//   node bench/lower-bound.mjs HOST:PORT
import zookeeper from 'node-zookeeper-client';

const client = zookeeper.createClient(process.argv[2]);
const children = (p) => new Promise((res, rej) => client.getChildren(p, (e, c) => (e ? rej(e) : res(c))));
client.once('connected', async () => {
  const ifaces = await children('/dubbo');
  const counts = await Promise.all(ifaces.map(async (i) => (await children(`/dubbo/${i}/providers`)).length));
  process.stdout.write(`${counts.reduce((a, b) => a + b, 0)}\n`);
  client.close();
});
client.connect();
