/**
 * JSON Schema of the config file. The single source of truth: ajv validates against it and fills
 * defaults, and docs/configuration.md is generated from it (npm run docs:config).
 */
const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
const port = { type: 'integer', minimum: 1, maximum: 65535 };
// 0 asks the OS for a free port; the bound port is logged and shown at /debug/connections.
const listenPort = { type: 'integer', minimum: 0, maximum: 65535 };
const ms = { type: 'integer', minimum: 0 };
const labelKey = {
  type: 'string',
  pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
};

export const configSchema = {
  $id: 'dubbo-istio-adapter/config',
  type: 'object',
  additionalProperties: false,
  properties: {
    logLevel: { enum: ['error', 'warn', 'info', 'debug'], default: 'info', description: 'Log level of the JSON log on stderr.' },
    admin: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Admin HTTP: health, readiness, metrics and debug endpoints.',
      properties: {
        address: { type: 'string', default: '127.0.0.1' },
        port: { ...listenPort, default: 15080 },
      },
    },
    sources: {
      type: 'array',
      minItems: 1,
      description: 'Registries to watch. Earlier sources win when two report the same endpoint.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'type'],
        properties: {
          name,
          type: { enum: ['file', 'zookeeper'] },
          file: {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: {
              path: { type: 'string', minLength: 1, description: 'YAML file of provider URLs, relative to the config file.' },
              pollMs: { ...ms, default: 1000, description: 'How often the file is checked for changes.' },
            },
          },
          zookeeper: {
            type: 'object',
            additionalProperties: false,
            required: ['connect'],
            properties: {
              connect: {
                type: 'string',
                pattern: '^[^,/\\s]+(,[^,/\\s]+)*(/\\S*)?$',
                description: 'host:port[,host:port...][/chroot]',
              },
              root: { type: 'string', default: 'dubbo', pattern: '^[^/]+$', description: 'Dubbo registry root node (no slashes).' },
              sessionTimeoutMs: { type: 'integer', minimum: 2000, default: 30000 },
              resyncIntervalMs: { ...ms, default: 300000, description: 'Periodic full re-list (with up to 20% jitter); 0 turns it off.' },
              auth: {
                type: 'object',
                additionalProperties: false,
                required: ['scheme'],
                properties: {
                  scheme: { const: 'digest' },
                  credentials: { type: 'string', pattern: '^[^:]+:.*$', description: 'user:password' },
                  credentialsEnv: { type: 'string', description: 'Environment variable holding user:password (preferred).' },
                },
              },
            },
          },
        },
        // Each type needs its own block, and only that one.
        allOf: [
          { if: { properties: { type: { const: 'file' } } }, then: { required: ['file'], not: { required: ['zookeeper'] } } },
          { if: { properties: { type: { const: 'zookeeper' } } }, then: { required: ['zookeeper'], not: { required: ['file'] } } },
        ],
      },
    },
    mapping: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How Dubbo provider URLs map to hosts, ports and labels.',
      properties: {
        hostTemplate: { type: 'string', default: '{interface}' },
        groupHostTemplate: { type: 'string', default: '{group}.{interface}' },
        protocols: {
          type: 'object',
          default: {
            dubbo: { portName: 'tcp-dubbo', protocol: 'TCP', number: 20880 },
            tri: { portName: 'grpc-tri', protocol: 'GRPC', number: 50051 },
            grpc: { portName: 'grpc-dubbo', protocol: 'GRPC', number: 50052 },
            rest: { portName: 'http-rest', protocol: 'HTTP', number: 8080 },
          },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['portName', 'protocol', 'number'],
            properties: {
              portName: { type: 'string', pattern: '^(tcp|grpc|http|http2)(-[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$' },
              protocol: { enum: ['TCP', 'GRPC', 'HTTP', 'HTTP2'] },
              number: port,
            },
          },
        },
        labels: {
          type: 'array',
          default: [
            { param: 'application', label: 'app' },
            { param: 'version', label: 'dubbo.version' },
            { param: 'group', label: 'dubbo.group' },
            { param: 'env', label: 'env' },
            { param: 'dubbo.tag', label: 'dubbo.tag' },
          ],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['param', 'label'],
            properties: { param: { type: 'string', minLength: 1 }, label: labelKey },
          },
        },
        locality: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            region: { type: 'array', items: { type: 'string' }, default: ['region'] },
            zone: { type: 'array', items: { type: 'string' }, default: ['zone', 'idc'] },
            subzone: { type: 'array', items: { type: 'string' }, default: [] },
          },
        },
        volatileParams: {
          type: 'array',
          items: { type: 'string' },
          default: ['pid', 'timestamp', 'dubbo', 'release', 'methods', 'revision', 'anyhost', 'side', 'generic', 'dynamic', 'deprecated', 'threads', 'logger'],
        },
        meshed: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            sidecarPort: { ...port, default: 20882 },
            markerParam: { type: 'string', default: 'mesh' },
            markerValue: { type: 'string', default: 'true' },
            label: { ...labelKey, default: 'dubbo.apache.org/meshed' },
          },
        },
        defaultWeight: { type: 'integer', minimum: 1, default: 100 },
      },
    },
    render: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        namespace: { ...name, default: 'dubbo' },
        exportTo: { type: 'array', items: { type: 'string' }, default: ['*'] },
        endpointMode: { enum: ['workloadentry', 'inline'], default: 'workloadentry' },
        membershipLabel: { ...labelKey, default: 'dubbo.apache.org/service' },
        objectLabels: {
          type: 'object',
          additionalProperties: { type: 'string' },
          default: { 'app.kubernetes.io/managed-by': 'dubbo-istio-adapter' },
        },
        serviceAccount: { type: 'string' },
        emptyServiceGraceMs: { ...ms, default: 60000 },
      },
    },
    xds: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        debounce: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            quietMs: { ...ms, default: 100, description: 'Push once no change came for this long.' },
            maxDelayMs: { ...ms, default: 1000, description: 'Push at the latest this long after the first change of a batch.' },
          },
        },
        keepalive: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Server-side pings that detect a dead istiod. Pings from istiod are always answered (no too_many_pings policy).',
          properties: {
            timeMs: { type: 'integer', minimum: 1000, default: 30000 },
            timeoutMs: { type: 'integer', minimum: 1000, default: 10000 },
          },
        },
      },
    },
    clusters: {
      type: 'array',
      minItems: 1,
      default: [{ name: 'default', listener: { port: 15051 } }],
      description: 'One cluster view per istiod (or revision); each has its own listener.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'listener'],
        properties: {
          name,
          listener: {
            type: 'object',
            additionalProperties: false,
            required: ['port'],
            properties: {
              address: { type: 'string', default: '127.0.0.1' },
              port: listenPort,
              tls: {
                type: 'object',
                additionalProperties: false,
                required: ['certFile', 'keyFile'],
                properties: { certFile: { type: 'string' }, keyFile: { type: 'string' } },
              },
            },
          },
          revision: { type: 'string', description: 'istio.io/rev label value; istiod ignores objects of another revision.' },
          network: { type: 'string', description: 'Network of this cluster\'s endpoints (WorkloadEntry.network).' },
        },
      },
    },
    protection: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        massRemoval: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5 },
            minEndpoints: { type: 'integer', minimum: 0, default: 10 },
            holdMs: { ...ms, default: 300000 },
          },
        },
      },
    },
  },
  required: ['sources'],
} as const;
