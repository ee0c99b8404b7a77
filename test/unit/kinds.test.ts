import { protoRoot } from '../../src/common/proto';
import { bodyTypeUrl, ISTIO_KINDS, KINDS, kindOfTypeUrl } from '../../src/istio/kinds';

describe('the table of Istio kinds', () => {
  it('names, for every kind, a spec message our protos have', () => {
    for (const kind of ISTIO_KINDS) expect(protoRoot.lookupType(KINDS[kind].protoMessage).name).toBe(kind);
    expect(bodyTypeUrl('DestinationRule')).toBe('type.googleapis.com/istio.networking.v1alpha3.DestinationRule');
  });

  it('recognizes a kind under each GVK version it serves, and nothing else', () => {
    for (const v of ['v1', 'v1beta1', 'v1alpha3']) expect(kindOfTypeUrl(`networking.istio.io/${v}/ServiceEntry`)).toBe('ServiceEntry');
    for (const url of [
      'networking.istio.io/v2/ServiceEntry',
      'security.istio.io/v1/ServiceEntry',
      'networking.istio.io/v1/Gateway',
      'networking.istio.io/v1/toString',
      'networking.istio.io/v1/ServiceEntry/x',
      'core/v1alpha1/MeshConfig',
    ]) {
      expect(kindOfTypeUrl(url)).toBeUndefined();
    }
  });
});
