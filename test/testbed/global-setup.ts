import { provisionDubbo } from './dubbo-provider';
import { provisionNacos } from './nacos-server';
import { provisionZookeeper } from './zookeeper-server';

/** Integration suites need the real servers and Dubbo providers on disk; fetch them once, before any suite runs. */
export default async function globalSetup(): Promise<void> {
  provisionZookeeper();
  provisionNacos();
  provisionDubbo();
}
