import { contentHash } from '../common/hash';
import type { MappingConfig, VirtualAddressConfig } from '../config/types';
import { serviceKeyId, type ServiceKey } from '../dubbo/model';
import { parseCidr } from '../common/cidr';
import { hostFromTemplate } from './names';

/** Where consumers reach a service: its host, and the virtual IP its ServiceEntry carries. */
export interface ServiceAddress {
  host: string;
  /** IPv4 virtual address (ServiceEntry.addresses); undefined when virtual addresses are off. */
  address?: string;
}

/** The host the templates give a service key, before collisions are settled. */
export function templateHost(key: ServiceKey, mapping: MappingConfig): string {
  const { interface: iface, group, version } = key;
  return hostFromTemplate(group ? mapping.groupHostTemplate : mapping.hostTemplate, { interface: iface, group, version });
}

const dotted = (ip: number): string => [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');

/**
 * Hosts and virtual IPs of the services that exist, handed out once and kept while the service
 * exists: nothing else ever gets them meanwhile, whatever arrives later. No I/O.
 *
 * - A host is what the templates give, unless another service already holds it (interfaces that
 *   differ only in case or in characters a host cannot carry): then the host gets a label of a
 *   hash of the exact service key in front, so it is distinct and the same for that key every time.
 * - A virtual IP is the CIDR's address at a hash of the service key, so the same service gets the
 *   same address in every replica and after every restart; on a collision the service that came
 *   second takes the next free one. Services of one commit come in order of creation (the
 *   providers' registration time), so the elder keeps the hash address across restarts too.
 */
export class AddressBook {
  private readonly byService = new Map<string, { address: ServiceAddress; offset?: number }>();
  private readonly hostOwners = new Map<string, string>();
  private readonly addressOwners = new Map<number, string>();
  private readonly range?: { base: number; size: number };

  constructor(
    private readonly mapping: MappingConfig,
    virtual: VirtualAddressConfig,
  ) {
    const range = virtual.enabled ? parseCidr(virtual.cidr) : undefined;
    if (typeof range === 'string') throw new Error(`render.virtualAddresses.cidr: ${range}`); // the config loader checked it
    // Leave out the network and broadcast addresses of the range.
    this.range = range && range.size > 2 ? { base: range.base + 1, size: range.size - 2 } : range;
  }

  get(id: string): ServiceAddress | undefined {
    return this.byService.get(id)?.address;
  }

  /**
   * Gives a new service its host and address (call in order of creation). The address is missing
   * only when every address of the range is taken.
   */
  add(id: string, key: ServiceKey): ServiceAddress {
    const known = this.byService.get(id);
    if (known) return known.address;
    let host = templateHost(key, this.mapping);
    if (this.hostOwners.has(host)) host = `h${contentHash(serviceKeyId(key), 10)}.${host}`;
    this.hostOwners.set(host, id);
    if (!this.range || this.addressOwners.size >= this.range.size) {
      this.byService.set(id, { address: { host } });
      return { host };
    }
    const { base, size } = this.range;
    let offset = parseInt(contentHash(serviceKeyId(key), 12), 16) % size;
    while (this.addressOwners.has(offset)) offset = (offset + 1) % size;
    this.addressOwners.set(offset, id);
    const address = { host, address: dotted(base + offset) };
    this.byService.set(id, { address, offset });
    return address;
  }

  /** Frees what a service that no longer exists held. */
  remove(id: string): void {
    const held = this.byService.get(id);
    if (!held) return;
    this.byService.delete(id);
    this.hostOwners.delete(held.address.host);
    if (held.offset !== undefined) this.addressOwners.delete(held.offset);
  }
}
