import { existsSync } from 'node:fs';
import path from 'node:path';
import { provisionZookeeper } from './zookeeper-server';

/** The adversarial suite attacks the built daemon (dist/, as make test builds it) with a real ZooKeeper. */
export default async function globalSetup(): Promise<void> {
  provisionZookeeper();
  if (!existsSync(path.resolve(__dirname, '../../dist/cli.js'))) throw new Error('dist/ is missing: run make build (make test and make adversarial do)');
}
