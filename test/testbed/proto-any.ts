import protobuf from 'protobufjs';

/** google.protobuf.Any from protobufjs's bundled well-known types, for decoding in tests. */
const root = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/any.proto') as protobuf.INamespace);
const AnyType = root.lookupType('google.protobuf.Any');
export const Any = { decode: (b: Uint8Array) => AnyType.toObject(AnyType.decode(b)) as { type_url: string; value: Uint8Array } };
