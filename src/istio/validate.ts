import { isIP } from 'node:net';
import { isDns1123Label, isDns1123Subdomain, isLabelKey, isLabelValue } from './names';

/*
 * The checks of each kind's spec, which the kinds table (kinds.ts) names; validateObject there
 * runs them with the checks every object gets. Each appends its problems to p.
 */

// istiod refuses a host whose last label is all digits (ValidateDNS1123Labels), as a DNS name would be an address.
const numericTld = (h: string): boolean => /(^|\.)\d+$/.test(h);
const host = (h: unknown): boolean => typeof h === 'string' && ((isDns1123Subdomain(h.replace(/^\*\./, '')) && !numericTld(h)) || h === '*');

export function validateDestinationRule(spec: Record<string, unknown>, p: string[]): void {
  if (!host(spec.host)) p.push(`spec.host ${JSON.stringify(spec.host)} is not a host name`);
  const names = new Set<string>();
  for (const [i, sub] of ((spec.subsets as { name?: string; labels?: Record<string, string> }[] | undefined) ?? []).entries()) {
    if (!isDns1123Label(sub.name ?? '')) p.push(`spec.subsets[${i}].name ${JSON.stringify(sub.name)} is not a DNS-1123 label`);
    if (names.has(sub.name ?? '')) p.push(`spec.subsets[${i}].name ${sub.name} appears twice`);
    names.add(sub.name ?? '');
    checkLabels(sub.labels ?? {}, `spec.subsets[${i}].labels`, p);
  }
}

export function validateVirtualService(spec: Record<string, unknown>, p: string[]): void {
  const hosts = (spec.hosts as unknown[] | undefined) ?? [];
  if (hosts.length === 0) p.push('spec.hosts is empty');
  for (const h of hosts) if (!host(h)) p.push(`host ${JSON.stringify(h)} is not a host name`);
  for (const kind of ['http', 'tcp'] as const) {
    for (const [i, r] of ((spec[kind] as { route?: { destination?: { host?: string }; weight?: number }[] }[] | undefined) ?? []).entries()) {
      const route = r.route ?? [];
      if (route.length === 0) p.push(`spec.${kind}[${i}] has no route`);
      for (const d of route) if (!host(d.destination?.host)) p.push(`spec.${kind}[${i}]: destination host ${JSON.stringify(d.destination?.host)} is not a host name`);
      const sum = route.reduce((n, d) => n + (d.weight ?? 0), 0);
      if (route.length > 1 && sum !== 100) p.push(`spec.${kind}[${i}]: weights add up to ${sum}, not 100`);
    }
  }
}

export function validateServiceEntry(spec: Record<string, unknown>, p: string[]): void {
  const hosts = spec.hosts as string[] | undefined;
  if (!hosts?.length) p.push('spec.hosts is empty');
  for (const h of hosts ?? []) {
    if (!isDns1123Subdomain(h)) p.push(`host "${h}" is not a DNS-1123 subdomain`);
    else if (numericTld(h)) p.push(`host "${h}" ends in an all-numeric label`);
  }
  for (const a of (spec.addresses as string[] | undefined) ?? []) if (isIP(a.replace(/\/\d{1,3}$/, '')) === 0) p.push(`address "${a}" is not an IP address or CIDR`);
  const ports = (spec.ports as { number: number; name: string }[] | undefined) ?? [];
  if (ports.length === 0) p.push('spec.ports is empty');
  const names = new Set<string>();
  const numbers = new Set<number>();
  for (const port of ports) {
    if (!(port.number >= 1 && port.number <= 65535)) p.push(`port number ${port.number} out of range`);
    if (names.has(port.name) || numbers.has(port.number)) p.push(`port ${port.name}/${port.number} appears twice`);
    names.add(port.name);
    numbers.add(port.number);
  }
  const endpoints = spec.endpoints as Record<string, unknown>[] | undefined;
  if (endpoints && spec.workloadSelector) p.push('only one of endpoints and workloadSelector may be set');
  endpoints?.forEach((e, i) => validateWorkload(e, `spec.endpoints[${i}]`, p, names));
  const sel = spec.workloadSelector as { labels?: Record<string, string> } | undefined;
  if (sel) checkLabels(sel.labels ?? {}, 'spec.workloadSelector.labels', p);
}

export function validateWorkloadEntry(spec: Record<string, unknown>, p: string[]): void {
  validateWorkload(spec, 'spec', p);
}

function validateWorkload(spec: Record<string, unknown>, at: string, p: string[], portNames?: Set<string>): void {
  const address = String(spec.address ?? '');
  if (!/^[\d.]+$/.test(address) && !address.includes(':')) p.push(`${at}.address "${address}" is not an IP address (resolution STATIC)`);
  for (const [name, port] of Object.entries((spec.ports as Record<string, number>) ?? {})) {
    if (!(port >= 1 && port <= 65535)) p.push(`${at}.ports.${name} ${port} out of range`);
    if (portNames && !portNames.has(name)) p.push(`${at}.ports.${name} names no service port`);
  }
  const weight = spec.weight as number | undefined;
  if (weight !== undefined && !(Number.isInteger(weight) && weight >= 0 && weight <= 0xffffffff)) p.push(`${at}.weight ${weight} is not a uint32`);
  checkLabels((spec.labels as Record<string, string>) ?? {}, `${at}.labels`, p);
}

export function checkLabels(labels: Record<string, string>, at: string, p: string[]): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!isLabelKey(k)) p.push(`${at}: key "${k}" is not a valid label key`);
    if (!isLabelValue(v)) p.push(`${at}: value "${v}" of "${k}" is not a valid label value`);
  }
}
