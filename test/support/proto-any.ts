import protobuf from 'protobufjs';

/** google.protobuf.Any from protobufjs's bundled well-known types, for decoding in tests. */
const root = protobuf.Root.fromJSON(protobuf.common['google/protobuf/any.proto'] as protobuf.INamespace);
export const Any = root.lookupType('google.protobuf.Any');
