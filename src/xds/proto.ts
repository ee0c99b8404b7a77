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
    ],
    { keepCase: false },
  );
  root.resolveAll();
  return root;
}

export const protoRoot = load();

export const DiscoveryRequest = protoRoot.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
export const DiscoveryResponse = protoRoot.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
export const DeltaDiscoveryRequest = protoRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
export const DeltaDiscoveryResponse = protoRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
export const McpResource = protoRoot.lookupType('istio.mcp.v1alpha1.Resource');
export const ServiceEntry = protoRoot.lookupType('istio.networking.v1alpha3.ServiceEntry');
export const WorkloadEntry = protoRoot.lookupType('istio.networking.v1alpha3.WorkloadEntry');

export const MCP_RESOURCE_TYPE_URL = 'type.googleapis.com/istio.mcp.v1alpha1.Resource';

export interface DiscoveryRequestMsg {
  versionInfo?: string;
  node?: { id?: string; cluster?: string; metadata?: unknown };
  resourceNames?: string[];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface DeltaDiscoveryRequestMsg {
  node?: { id?: string; cluster?: string };
  typeUrl?: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}
