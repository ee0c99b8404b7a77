import { provisionHelm } from './helm';
import { provisionZookeeper } from './zookeeper-server';

/** Chart checks need helm, and ZooKeeper to run the daemon on the config the chart renders. */
export default async function globalSetup(): Promise<void> {
  provisionHelm();
  provisionZookeeper();
}
