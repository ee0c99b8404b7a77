import path from 'node:path';
import protobuf from 'protobufjs';

/**
 * Our minimal copies of the upstream protos (proto/), loaded once. protobufjs resolves the
 * google/protobuf well-known types from its own bundled definitions.
 */
const PROTO_ROOT = path.resolve(__dirname, '../../proto');

function load(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    const local = path.join(PROTO_ROOT, target);
    return target.startsWith('google/protobuf/') ? target : local;
  };
  root.loadSync(
    [
      'envoy/service/discovery/v3/discovery.proto',
      'mcp/v1alpha1/resource.proto',
      'networking/v1alpha3/service_entry.proto',
      'networking/v1alpha3/traffic.proto',
    ],
    { keepCase: false },
  );
  root.resolveAll();
  return root;
}

export const protoRoot = load();

/** The Istio spec message of a kind (v1alpha3 package, whatever GVK version istiod asked for). */
export function specType(kind: string): protobuf.Type {
  return protoRoot.lookupType(`istio.networking.v1alpha3.${kind}`);
}

/**
 * An Istio spec as its YAML reads (camelCase, durations as "10s", wrappers as plain values) to
 * the object protobufjs encodes. Throws, naming the path, on a field our protos do not have or a
 * value of the wrong shape: a pass-through object is refused rather than sent with parts dropped.
 */
export function yamlToProto(type: protobuf.Type, value: unknown, at: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${at}: must be a mapping`);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    const field = fieldByYamlName(type, key);
    if (!field) throw new Error(`${at}.${key}: unknown field of ${type.name}`);
    const path = `${at}.${key}`;
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}: must be a mapping`);
      out[field.name] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, convert(field, x, `${path}.${k}`)]));
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new Error(`${path}: must be a list`);
      out[field.name] = v.map((x, i) => convert(field, x, `${path}[${i}]`));
    } else out[field.name] = convert(field, v, path);
  }
  return out;
}

function fieldByYamlName(type: protobuf.Type, key: string): protobuf.Field | undefined {
  const norm = (s: string) => s.replace(/_/g, '').toLowerCase();
  return type.fields[key] ?? type.fieldsArray.find((f) => norm(f.name) === norm(key));
}

function convert(field: protobuf.Field, v: unknown, at: string): unknown {
  const rt = field.resolve().resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Duration') return duration(v, at);
    if (/^\.google\.protobuf\.\w+Value$/.test(rt.fullName)) return { value: v };
    return yamlToProto(rt, v, at);
  }
  if (rt instanceof protobuf.Enum) {
    if (typeof v !== 'string' || rt.values[v] === undefined) throw new Error(`${at}: ${JSON.stringify(v)} is not one of ${Object.keys(rt.values).join(', ')}`);
    return v;
  }
  if (field.type === 'string' && typeof v !== 'string') throw new Error(`${at}: must be a string`);
  if (field.type === 'bool' && typeof v !== 'boolean') throw new Error(`${at}: must be true or false`);
  if (/int|fixed/.test(field.type) && !Number.isInteger(v)) throw new Error(`${at}: must be a whole number`);
  return v;
}

/** "1.5s", "300ms", "1m", "1h" -> google.protobuf.Duration */
function duration(v: unknown, at: string): { seconds: number; nanos: number } {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns)$/.exec(v) : null;
  if (!m) throw new Error(`${at}: ${JSON.stringify(v)} is not a duration such as 500ms, 10s or 1m`);
  const scale: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
  const total = Number(m[1]) * scale[m[2]];
  const seconds = Math.floor(total);
  return { seconds, nanos: Math.round((total - seconds) * 1e9) };
}
