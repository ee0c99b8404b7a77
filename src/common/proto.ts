import path from 'node:path';
import protobuf from 'protobufjs';

/**
 * Our minimal copies of the upstream protos (proto/), loaded once. protobufjs resolves the
 * google/protobuf well-known types from its own bundled definitions.
 */
const PROTO_ROOT = path.resolve(__dirname, '../../proto');

function load(files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    const local = path.join(PROTO_ROOT, target);
    return target.startsWith('google/protobuf/') ? target : local;
  };
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  return root;
}

export const protoRoot = load([
  'envoy/service/discovery/v3/discovery.proto',
  'mcp/v1alpha1/resource.proto',
  'networking/v1alpha3/service_entry.proto',
  'networking/v1alpha3/traffic.proto',
  'dubbo/metadata/metadata_service_v2.proto',
]);

/**
 * Nacos's client protocol, in a root of its own: it has no package, and its top-level Metadata
 * would otherwise sit in the same root as MCP's Metadata.
 */
export const nacosProtoRoot = load(['nacos/nacos_grpc_service.proto']);

/** The Istio spec message of a kind (v1alpha3 package, whatever GVK version istiod asked for). */
export function specType(kind: string): protobuf.Type {
  return protoRoot.lookupType(`istio.networking.v1alpha3.${kind}`);
}

/**
 * An Istio spec as its YAML reads (camelCase, durations as "10s", wrappers as plain values) to
 * the object protobufjs's encode takes as it is (enums as numbers). Throws, naming the path, on a
 * field our protos do not have or a value of the wrong shape: a pass-through object is refused
 * rather than sent with parts dropped.
 */
export function yamlToProto(type: protobuf.Type, value: unknown, at: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${at}: must be a mapping`);
  const out: Record<string, unknown> = {};
  for (const key in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    const field = fieldByYamlName(type, key);
    if (!field) throw new Error(`${at}.${key}: unknown field of ${type.name}`);
    const conv = converterOf(field);
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${at}.${key}: must be a mapping`);
      const m: Record<string, unknown> = {};
      for (const k in v as Record<string, unknown>) m[k] = convert(conv, (v as Record<string, unknown>)[k], at, key, k);
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new Error(`${at}.${key}: must be a list`);
      out[field.name] = v.map((x, i) => convert(conv, x, at, key, i));
    } else out[field.name] = convert(conv, v, at, key);
  }
  return out;
}

function fieldByYamlName(type: protobuf.Type, key: string): protobuf.Field | undefined {
  const norm = (s: string) => s.replace(/_/g, '').toLowerCase();
  return type.fields[key] ?? type.fieldsArray.find((f) => norm(f.name) === norm(key));
}

/**
 * What a field's values convert by, worked out once per field: rendering every endpoint of an
 * estate runs this per value, and resolving the field's type each time showed in the profile.
 */
type Converter = { kind: 'message'; type: protobuf.Type } | { kind: 'duration' | 'wrapper' | 'string' | 'bool' | 'int' | 'other' } | { kind: 'enum'; type: protobuf.Enum };
const converters = new WeakMap<protobuf.Field, Converter>();

function converterOf(field: protobuf.Field): Converter {
  let c = converters.get(field);
  if (c) return c;
  const rt = field.resolve().resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Duration') c = { kind: 'duration' };
    else if (/^\.google\.protobuf\.\w+Value$/.test(rt.fullName)) c = { kind: 'wrapper' };
    else c = { kind: 'message', type: rt };
  } else if (rt instanceof protobuf.Enum) c = { kind: 'enum', type: rt };
  else if (field.type === 'string') c = { kind: 'string' };
  else if (field.type === 'bool') c = { kind: 'bool' };
  else if (/int|fixed/.test(field.type)) c = { kind: 'int' };
  else c = { kind: 'other' };
  converters.set(field, c);
  return c;
}

/** One value; its path (`at.key`, `at.key[i]` or `at.key.k`) is only built for an error. */
function convert(c: Converter, v: unknown, at: string, key: string, sub?: number | string): unknown {
  const path = () => `${at}.${key}${sub === undefined ? '' : typeof sub === 'number' ? `[${sub}]` : `.${sub}`}`;
  switch (c.kind) {
    case 'message':
      return yamlToProto(c.type, v, path());
    case 'duration':
      return duration(v, path());
    case 'wrapper':
      return { value: v };
    case 'enum': {
      const n = typeof v === 'string' ? c.type.values[v] : undefined;
      if (n === undefined) throw new Error(`${path()}: ${JSON.stringify(v)} is not one of ${Object.keys(c.type.values).join(', ')}`);
      return n;
    }
    case 'string':
      if (typeof v !== 'string') throw new Error(`${path()}: must be a string`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${path()}: must be true or false`);
      return v;
    case 'int':
      if (!Number.isInteger(v)) throw new Error(`${path()}: must be a whole number`);
      return v;
    default:
      return v;
  }
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
