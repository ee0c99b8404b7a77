import { provisionDubbo } from './dubbo-provider';
import { provisionIstiod } from './istiod';
import { provisionZookeeper } from './zookeeper-server';

/** End-to-end suites need ZooKeeper, the Dubbo providers and a built istiod; fetch and build them once. */
export default async function globalSetup(): Promise<void> {
  provisionZookeeper();
  provisionDubbo();
  provisionIstiod();
}
