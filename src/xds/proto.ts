import { protoRoot } from '../common/proto';

export { protoRoot };

export const DiscoveryRequest = protoRoot.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
export const DiscoveryResponse = protoRoot.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
export const DeltaDiscoveryRequest = protoRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
export const DeltaDiscoveryResponse = protoRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
export const McpResource = protoRoot.lookupType('istio.mcp.v1alpha1.Resource');

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
