// Validates Kubernetes manifests (multi-document YAML on stdin) against the Kubernetes OpenAPI
// schemas shipped in kubernetes-models (and the Prometheus Operator's, for ServiceMonitor).
// Prints one line per problem and exits 1 if there is any. ESM, because those packages are.
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';

const docs = loadAll(readFileSync(0, 'utf8')).filter((d) => d && typeof d === 'object');
const problems = [];
for (const doc of docs) {
  const where = `${doc.kind}/${doc.metadata?.name}`;
  const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : [null, doc.apiVersion];
  const module = group === 'monitoring.coreos.com' ? `@kubernetes-models/prometheus-operator/${group}/${version}` : `kubernetes-models/${group ? `${group}/` : ''}${version}`;
  let Model;
  try {
    Model = (await import(module))[doc.kind];
  } catch (err) {
    problems.push(`${where}: no schema for ${doc.apiVersion} (${err.message})`);
    continue;
  }
  if (!Model) {
    problems.push(`${where}: no schema for kind ${doc.kind} in ${doc.apiVersion}`);
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (err) {
    problems.push(`${where}: ${err.message}`);
  }
}
for (const p of problems) console.log(p);
console.log(`${docs.length} manifests checked, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
