import { provisionIstiod } from './istiod';
import { provisionZookeeper } from './zookeeper-server';

/** End-to-end suites need ZooKeeper and a built istiod; fetch and build them once. */
export default async function globalSetup(): Promise<void> {
  provisionZookeeper();
  provisionIstiod();
}
