/**
 * JSON Schema of the config file. The single source of truth: ajv validates against it and fills
 * defaults, and docs/configuration.md is generated from it (npm run docs:config).
 */
const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
// 0 asks the OS for a free port; the bound port is logged and shown at /debug/connections.
const listenPort = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const ms = { type: 'integer', minimum: 0 } as const;
const labelKey = {
  type: 'string',
  pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
} as const;

// A Kubernetes LabelSelector: every matchLabels pair and every expression must hold.
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1 },
          operator: { enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const;

export const nacosBlock = {
  type: 'object',
  description: 'type: nacos. Interface-level Dubbo services (providers:{interface}:{version}:{group}) and Dubbo 3 application-level instances in Nacos, over its HTTP API. See docs/nacos.md.',
  additionalProperties: false,
  required: ['serverAddr'],
  properties: {
    serverAddr: { type: 'string', pattern: '^[^,\\s/]+(,[^,\\s/]+)*$', description: 'host:port[,host:port...]; the next one is tried when one fails.' },
    contextPath: { type: 'string', default: '/nacos', description: 'Nacos server context path.' },
    namespaces: { type: 'array', items: { type: 'string' }, minItems: 1, default: [''], description: 'Namespace ids to read; "" is the public namespace.' },
    groups: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, default: ['DEFAULT_GROUP'], description: 'Nacos groups to read in each namespace.' },
    servicePrefix: { type: 'string', default: 'providers:', description: 'Interface-level services are those whose name starts with this (consumers:* are not read).' },
    applications: {
      type: 'boolean',
      default: true,
      description: 'Also read Dubbo 3 application-level instances: other services whose instances carry dubbo.metadata.revision; metadata and mapping come from Nacos config. See docs/dubbo3.md.',
    },
    mappingRefreshMs: { ...ms, default: 60000, description: 'How often the service-name mapping (config group "mapping") of each interface is read again.' },
    transport: {
      enum: ['grpc', 'http'],
      default: 'grpc',
      description:
        'grpc: subscribe over Nacos 2/3 gRPC and apply what Nacos pushes (falls back to http, logged, when the gRPC port refuses and HTTP answers). http: poll the v1 HTTP API (Nacos 1.x, or a closed gRPC port). See docs/nacos.md.',
    },
    grpcPortOffset: { type: 'integer', minimum: -65535, maximum: 65535, default: 1000, description: 'The gRPC port of each server is its HTTP port plus this (Nacos: 1000).' },
    pollMs: {
      type: 'integer',
      minimum: 200,
      default: 5000,
      description:
        'http: how often every service and its instances are listed. grpc: how often the service list is read when fuzzy watch is not available (Nacos 2, or more services than the server lets one pattern watch).',
    },
    resyncMs: { ...ms, default: 300000, description: 'grpc: a full re-list and re-subscription this often, applying only the real difference (a safety net under the pushes); 0 turns it off.' },
    concurrency: { type: 'integer', minimum: 1, maximum: 256, default: 8, description: 'Requests in flight at once.' },
    timeoutMs: { type: 'integer', minimum: 100, default: 5000, description: 'Timeout of one request.' },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['username'],
      description: 'Nacos auth (nacos.core.auth.enabled=true): a user, and optionally an access key pair.',
      properties: {
        username: { type: 'string', minLength: 1 },
        password: { type: 'string', description: 'Inline password; prefer passwordEnv.' },
        passwordEnv: { type: 'string', description: 'Environment variable holding the password.' },
        accessKey: { type: 'string', description: 'Access key, for servers that use AK/SK.' },
        secretKey: { type: 'string' },
        secretKeyEnv: { type: 'string' },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: 'Talk HTTPS to Nacos.',
      properties: {
        caFile: { type: 'string', description: 'PEM CA bundle that signed the Nacos certificate.' },
        insecureSkipVerify: { type: 'boolean', default: false, description: 'Do not check the certificate (tests only).' },
      },
    },
  },
} as const;

export const zookeeperBlock = {
  type: 'object',
  description: 'type: zookeeper. Interface-level Dubbo registrations under /ROOT/*/providers, and Dubbo 3 application-level instances (see docs/dubbo3.md).',
  additionalProperties: false,
  required: ['connect'],
  properties: {
    connect: {
      type: 'string',
      pattern: '^[^,/\\s]+(,[^,/\\s]+)*(/\\S*)?$',
      description: 'host:port[,host:port...][/chroot]',
    },
    root: { type: 'string', default: 'dubbo', pattern: '^[^/]+$', description: 'Dubbo registry root node (no slashes).' },
    sessionTimeoutMs: {
      type: 'integer',
      minimum: 2000,
      default: 30000,
      description:
        'ZooKeeper session timeout. Disconnected for this long, the source starts a new session and re-lists. Registry and rule sources that name the same ZooKeeper (connect string and credentials) share one session, so they must agree on it.',
    },
    resyncIntervalMs: { ...ms, default: 300000, description: 'Periodic full re-list (with up to 20% jitter); 0 turns it off.' },
    auth: {
      type: 'object',
      description: 'Credentials for znodes protected by a digest ACL.',
      additionalProperties: false,
      required: ['scheme'],
      properties: {
        scheme: { const: 'digest', description: 'ZooKeeper ACL scheme.' },
        credentials: { type: 'string', pattern: '^[^:]+:.*$', description: 'user:password' },
        credentialsEnv: { type: 'string', description: 'Environment variable holding user:password (preferred).' },
      },
    },
    applications: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'Dubbo 3 application-level discovery: instances, with the metadata report under /ROOT/metadata and the mapping under /ROOT/mapping.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Watch application-level instances too (both models can be registered at once).' },
        root: { type: 'string', default: 'services', pattern: '^[^/]+$', description: 'Node the instances are registered under (Dubbo: services).' },
      },
    },
  },
} as const;

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
        address: { type: 'string', default: '127.0.0.1', description: 'Address the admin HTTP server binds to.' },
        port: { ...listenPort, default: 15080, description: 'Admin HTTP port; 0 picks a free one.' },
        tokenEnv: {
          type: 'string',
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description: 'Environment variable holding a bearer token that POST /admin/... requests must carry. Unset: those requests are taken from this host (loopback) only.',
        },
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
          name: { ...name, description: 'Source name (DNS-1123 label), used in logs, metrics and /debug/sources.' },
          type: { enum: ['file', 'zookeeper', 'nacos'], description: 'Which block below configures it.' },
          file: {
            type: 'object',
            description: 'type: file. A YAML file of provider URLs (see config/providers.yaml).',
            additionalProperties: false,
            required: ['path'],
            properties: {
              path: { type: 'string', minLength: 1, description: 'YAML file of provider URLs, relative to the config file.' },
              pollMs: { ...ms, default: 1000, description: 'How often the file is checked for changes.' },
            },
          },
          nacos: nacosBlock,
          zookeeper: zookeeperBlock,
        },
        // Each type needs its own block, and only that one.
        allOf: (['file', 'zookeeper', 'nacos'] as const).map((t) => ({
          if: { properties: { type: { const: t } } },
          then: { required: [t], not: { anyOf: ['file', 'zookeeper', 'nacos'].filter((o) => o !== t).map((o) => ({ required: [o] })) } },
        })),
      },
    },
    mapping: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How Dubbo provider URLs map to hosts, ports and labels.',
      properties: {
        hostTemplate: {
          type: 'string',
          default: '{version}.{interface}',
          description:
            'Host of a service without group. Placeholders {interface}, {group}, {version}; lower-cased; a placeholder with no value drops its label. With {version} (the default), each version is its own host, as Dubbo never sends a call for one version to a provider of another. Without it, every version shares one host, versions become subsets (label dubbo.version) and the default route spans them all. Both templates must agree on {version}.',
        },
        groupHostTemplate: { type: 'string', default: '{version}.{group}.{interface}', description: 'Host of a service with a group: groups never share a host.' },
        protocols: {
          type: 'object',
          description: 'Dubbo protocol (URL scheme) -> ServiceEntry port. A provider of an unlisted protocol is rejected with a reason.',
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
              portName: { type: 'string', description: 'Istio port name; its prefix selects the protocol sniffing.', pattern: '^(tcp|grpc|http|http2)(-[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$' },
              protocol: { enum: ['TCP', 'GRPC', 'HTTP', 'HTTP2'], description: 'Istio protocol of the port.' },
              number: { ...port, description: 'Service port number; the endpoint keeps its own port.' },
            },
          },
        },
        labels: {
          type: 'array',
          description: 'URL parameter -> endpoint label. Values are sanitized to Kubernetes rules; long ones get a hash suffix.',
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
            properties: { param: { type: 'string', minLength: 1, description: 'URL parameter name.' }, label: { ...labelKey, description: 'Label key.' } },
          },
        },
        locality: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'URL parameters read, first found wins, for each part of the endpoint locality (region/zone/subzone).',
          properties: {
            region: { type: 'array', items: { type: 'string' }, default: ['region'] },
            zone: { type: 'array', items: { type: 'string' }, default: ['zone', 'idc'] },
            subzone: { type: 'array', items: { type: 'string' }, default: [] },
            defaultRegion: {
              type: 'string',
              default: '',
              description:
                "Region of a provider that names a zone but no region (most Dubbo estates: zone or idc only), e.g. the region of the data centre. Istio scopes zones in regions, so without a region a zone would never match a consumer's locality: the endpoint then gets no locality at all.",
            },
          },
        },
        volatileParams: {
          type: 'array',
          items: { type: 'string' },
          description: 'Parameters that change on every restart; never allowed as labels (the config is rejected).',
          default: ['pid', 'timestamp', 'dubbo', 'release', 'methods', 'revision', 'anyhost', 'side', 'generic', 'dynamic', 'deprecated', 'threads', 'logger'],
        },
        meshed: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'How a provider re-registered by its sidecar is recognized, and the label it gets.',
          properties: {
            markerParam: { type: 'string', default: 'mesh', description: 'A provider with this parameter...' },
            markerValue: {
              type: 'string',
              default: 'true',
              description: '...set to this value is meshed: it is served at sidecarPort, and replaces the direct registration of the same service, version and protocol at its address.',
            },
            sidecarPort: { ...port, default: 20882, description: "The port a meshed provider is served at (its sidecar's)." },
            byPort: {
              type: 'boolean',
              default: false,
              description:
                'Also take a provider registered on sidecarPort as meshed without the marker (for sidecars that re-register without one). Off by default: plain Dubbo providers listen on 20882 too.',
            },
            label: { ...labelKey, default: 'dubbo.apache.org/meshed', description: 'Label set to "true" or "false" on every endpoint.' },
          },
        },
        defaultWeight: { type: 'integer', minimum: 1, maximum: 2147483647, default: 100, description: 'Weight of a provider without a weight parameter (Dubbo default 100).' },
      },
    },
    render: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How services become Istio objects.',
      properties: {
        namespace: { ...name, default: 'dubbo', description: 'Namespace of every object.' },
        exportTo: { type: 'array', items: { type: 'string' }, default: ['*'], description: 'ServiceEntry exportTo.' },
        endpointMode: {
          enum: ['workloadentry', 'inline'],
          default: 'inline',
          description:
            'inline: endpoints inside the ServiceEntry (the default: istiod ingests it far faster, docs/performance.md); workloadentry: a WorkloadEntry per provider, selected by the ServiceEntry.',
        },
        membershipLabel: { ...labelKey, default: 'dubbo.apache.org/service', description: 'Label that ties WorkloadEntries to their ServiceEntry.' },
        objectLabels: {
          type: 'object',
          additionalProperties: { type: 'string' },
          default: { 'app.kubernetes.io/managed-by': 'dubbo-istio-adapter' },
          description: 'Labels on every object we render.',
        },
        serviceAccount: { type: 'string', description: 'WorkloadEntry serviceAccount, when set.' },
        emptyServiceGraceMs: { ...ms, default: 60000, description: 'A service whose providers all left keeps its ServiceEntry, with no endpoints, this long.' },
        virtualAddresses: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            "A virtual IP per service in its ServiceEntry's addresses: with it, sidecars give every TCP service its own outbound listener (without it, all dubbo:// services share 0.0.0.0:20880 and only one is reachable). See docs/istio.md.",
          properties: {
            enabled: { type: 'boolean', default: true, description: 'Off: ServiceEntries carry no addresses.' },
            cidr: {
              type: 'string',
              default: '240.128.0.0/10',
              description: "IPv4 range the addresses come from; must not overlap Istio's own auto-allocation range 240.240.0.0/16, nor any address a workload really uses.",
            },
          },
        },
      },
    },
    xds: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The MCP-over-xDS server istiod dials.',
      properties: {
        debounce: {
          type: 'object',
          description: 'Changes are batched into one push.',
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
            timeMs: { type: 'integer', minimum: 1000, default: 30000, description: 'Ping an idle istiod connection this often.' },
            timeoutMs: { type: 'integer', minimum: 1000, default: 10000, description: 'Close it when a ping is not answered within this.' },
          },
        },
        limits: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'What one client stream may cost. A stream past a limit ends with RESOURCE_EXHAUSTED (istiod reconnects), counted in dia_rejected_inputs_total{source="xds"}; no other stream notices. See docs/security.md.',
          properties: {
            maxRequestBytes: {
              type: 'integer',
              minimum: 65536,
              default: 4194304,
              description: "Largest request decoded. istiod's requests are a few KiB; a Delta client's reconnect lists every resource it holds (about 80 bytes each).",
            },
            maxResendsPerSecond: {
              type: 'integer',
              minimum: 1,
              default: 5,
              description: 'Full re-sends of a version the stream already has (a re-request without a nonce), per second, with a burst of ten times that. istiod re-requests only after it reconnects.',
            },
            maxDeltaNames: { type: 'integer', minimum: 1, default: 100000, description: 'Resource names one Delta stream may subscribe to by name (istiod subscribes by wildcard).' },
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
          name: { ...name, description: 'Cluster view name, used in logs, metrics and /debug/snapshot?cluster=.' },
          listener: {
            type: 'object',
            additionalProperties: false,
            required: ['port'],
            description: "Where this view's istiod dials (meshConfig.configSources: xds://ADDRESS:PORT).",
            properties: {
              address: { type: 'string', default: '127.0.0.1', description: '0.0.0.0 in a pod.' },
              port: { ...listenPort, description: 'gRPC port; 0 picks a free one.' },
              tls: {
                type: 'object',
                additionalProperties: false,
                required: ['certFile', 'keyFile'],
                description: 'Server TLS (istiod tlsSettings.mode SIMPLE). Without it, plaintext.',
                properties: { certFile: { type: 'string', description: 'PEM certificate chain.' }, keyFile: { type: 'string', description: 'PEM private key.' } },
              },
            },
          },
          revision: { type: 'string', description: 'istio.io/rev label value; istiod ignores objects of another revision.' },
          shard: {
            type: 'object',
            additionalProperties: false,
            required: ['index', 'count'],
            description:
              "Serve only shard index of count (by a hash of the service key). List each shard's listener as its own istiod config source: a change then resends one shard, not the whole type. See docs/istio.md.",
            properties: {
              index: { type: 'integer', minimum: 0, description: "This view's shard, from 0 to count - 1." },
              count: { type: 'integer', minimum: 1, maximum: 1024, description: 'How many shards the estate is split into; the same on every shard view of one istiod.' },
            },
          },
          filter: {
            type: 'object',
            additionalProperties: false,
            description: 'Which services and endpoints this view sees. Left out: everything.',
            properties: {
              services: {
                ...labelSelector,
                description: 'Matched against the service labels dubbo.apache.org/interface and dubbo.group. A service left out gets no objects in this view.',
              },
              endpoints: {
                ...labelSelector,
                description: "Matched against each endpoint's labels (app, env, dubbo.version, ... and the meshed label). A service keeps its ServiceEntry when none match.",
              },
            },
          },
          overrides: {
            type: 'object',
            additionalProperties: false,
            description: 'What this view sets on every endpoint.',
            properties: {
              network: { type: 'string', description: 'WorkloadEntry network (multi-network meshes).' },
              locality: {
                type: 'string',
                pattern: '^[^/]+(/[^/]+){0,2}$',
                description: 'region[/zone[/subzone]], replacing the locality from the registry.',
              },
              labels: {
                type: 'object',
                propertyNames: labelKey,
                additionalProperties: { type: 'string' },
                description: 'Extra endpoint labels; they win over labels from the registry.',
              },
            },
          },
        },
      },
    },
    rules: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Traffic rules: Dubbo governance rules and adapter documents from config centers, and adapter documents inline. See docs/rules.md.',
      properties: {
        sources: {
          type: 'array',
          default: [],
          description: 'Config centers to watch for rules. A source that is down keeps the rules it last had.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'type'],
            properties: {
              name: { ...name, description: 'Config-center name (DNS-1123 label), in logs, metrics and /debug/rules.' },
              type: { enum: ['zookeeper', 'nacos'], description: 'Which block below configures it.' },
              zookeeper: { ...zookeeperBlock, description: 'type: zookeeper. Rules under /ROOT/config/DUBBO_GROUP and /ROOT/config/ADAPTER_GROUP (registry-only keys are ignored).' },
              nacos: { ...nacosBlock, description: 'type: nacos. Rules in the config groups DUBBO_GROUP and ADAPTER_GROUP of each namespace (registry-only keys are ignored).' },
            },
            allOf: (['zookeeper', 'nacos'] as const).map((t) => ({
              if: { properties: { type: { const: t } } },
              then: { required: [t], not: { required: [t === 'zookeeper' ? 'nacos' : 'zookeeper'] } },
            })),
          },
        },
        dubboGroup: {
          type: 'string',
          default: 'dubbo',
          pattern: '^[^/]+$',
          description: 'Group of Dubbo governance rules ({key}.configurators, .tag-router, .condition-router): the ZooKeeper node under /ROOT/config, the Nacos group.',
        },
        adapterGroup: { type: 'string', default: 'dubbo-istio-adapter', pattern: '^[^/]+$', description: 'Group of TrafficPolicy documents and of Istio objects to pass through.' },
        tagLabel: {
          ...labelKey,
          default: 'dubbo.tag',
          description: 'Endpoint label that carries a Dubbo tag (tag routes select by it; providers may also set it as a URL parameter mapped by mapping.labels).',
        },
        tagHeader: { type: 'string', default: 'dubbo.tag', pattern: '^[a-z0-9][-a-z0-9._]*$', description: 'Request header that carries the Dubbo tag of a Triple (gRPC) call.' },
        legacyUrls: {
          type: 'boolean',
          default: true,
          description:
            'Also read Dubbo 2.6 rules from ZooKeeper rule sources: the override:// and route:// URLs under /ROOT/{interface}/configurators and /routers (two watched directories per interface).',
        },
        consumerLabel: {
          ...labelKey,
          default: 'app',
          description:
            "Workload label that names a consumer's Dubbo application (the Kubernetes app label by default): condition routes on application = X, and rules keyed by a consumer application, match consumers by it.",
        },
        documents: {
          type: 'array',
          default: [],
          items: { type: 'object' },
          description: 'TrafficPolicy documents and Istio VirtualService/DestinationRule objects, as in the config center; checked at start.',
        },
      },
    },
    metadataService: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        "Dubbo 3 instances on Dubbo's default metadata (dubbo.metadata.storage-type=local) write no metadata report: the adapter asks a provider's MetadataService for the metadata of its revision, once per application and revision (docs/dubbo3.md). The metadata report stays first when it has the revision.",
      properties: {
        enabled: { type: 'boolean', default: true, description: "Call providers' MetadataService (the adapter must reach the providers' metadata port)." },
        allowedCidrs: {
          type: 'array',
          items: { type: 'string', pattern: '^[0-9.]+/\\d{1,2}$|^::/0$' },
          default: ['0.0.0.0/0', '::/0'],
          description: 'Provider addresses the adapter may call (IPv4 CIDRs, or ::/0 for every IPv6 address); an instance elsewhere stays unresolved, with that reason.',
        },
        timeoutMs: { ...ms, minimum: 100, default: 3000, description: 'One call: connect, ask and read the answer.' },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4, description: 'Calls in flight at once, over every registry.' },
        retryMs: { ...ms, minimum: 100, default: 15000, description: 'After every provider of a revision failed, ask again after this long.' },
        maxBytes: { type: 'integer', minimum: 1024, maximum: 67108864, default: 4194304, description: 'Largest answer accepted.' },
        pendingDegradedMs: {
          ...ms,
          default: 60000,
          description: 'Instances waiting this long for their metadata make /readyz say degraded, with the reason (they are pending, not rejected, until then and after).',
        },
      },
    },
    protection: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Never lose the mesh: guards against a registry that empties by accident.',
      properties: {
        massRemoval: {
          type: 'object',
          description: 'Holds back removals of too many endpoints of one source at once, or within a window.',
          additionalProperties: false,
          default: {},
          properties: {
            threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5, description: "Share of a source's endpoints that one commit may remove before it is held." },
            minEndpoints: { type: 'integer', minimum: 0, default: 10, description: 'Below this many endpoints a source is not guarded.' },
            holdMs: { ...ms, default: 300000, description: 'Held removals apply after this long (0: only on POST /admin/confirm-removals?source=NAME).' },
            windowMs: {
              ...ms,
              default: 300000,
              description:
                'Also hold a drain spread over many commits: removals that would take the source more than `threshold` below its largest endpoint count within this window (0: compare with the commit before only). Once held removals apply, the window starts again from what is left.',
            },
          },
        },
      },
    },
  },
  required: ['sources'],
} as const;
