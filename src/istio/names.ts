import { contentHash } from '../common/hash';

/** Annotations on a ServiceEntry naming its Dubbo service; also the label a cluster's service filter matches. */
export const ANNOTATION_INTERFACE = 'dubbo.apache.org/interface';
export const ANNOTATION_GROUP = 'dubbo.apache.org/group';
export const ANNOTATION_VERSION = 'dubbo.apache.org/version';

/** Kubernetes and Istio naming rules, and stable shortening. Pure. */

const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && LABEL_RE.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every(isDns1123Label);
}

export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE_RE.test(s);
}

export function isLabelKey(k: string): boolean {
  const slash = k.indexOf('/');
  const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : ['', k];
  if (slash >= 0 && !isDns1123Subdomain(prefix)) return false;
  return name.length > 0 && isLabelValue(name);
}

/**
 * A DNS-1123 label (an object name) for any string. Kept readable where the mapping is plain
 * (dots become dashes); anything lossy or too long gets a hash of the original, so two inputs
 * never share a name. The tail is kept when shortening: it holds the class name.
 */
export function objectName(raw: string): string {
  const plain = /^[a-z0-9.]+$/.test(raw) && !raw.includes('..');
  const base = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (plain && base.length <= 63 && base.length > 0) return base;
  const hash = contentHash(raw, 10);
  const keep = base.slice(-52).replace(/^-+/, '');
  return keep ? `${keep}-${hash}` : `x-${hash}`;
}

const isAlphanumeric = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * s from its first to its last character that `keep` accepts. By index, in linear time: a regex
 * such as /[^A-Za-z0-9]+$/ backtracks over every run of separators inside the string, and one
 * provider with a 60,000-character parameter stalled the event loop for seconds.
 */
function trimTo(s: string, keep: (charCode: number) => boolean): string {
  let start = 0;
  while (start < s.length && !keep(s.charCodeAt(start))) start++;
  let end = s.length;
  while (end > start && !keep(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** A valid label value for any string: invalid characters become '-', long ones get a hash. */
export function labelValue(raw: string): string {
  if (isLabelValue(raw)) return raw;
  const cleaned = trimTo(raw, isAlphanumeric).replace(/[^-A-Za-z0-9_.]/g, '-');
  if (cleaned.length <= 63 && cleaned === raw) return cleaned;
  const hash = contentHash(raw, 10);
  const keep = cleaned.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '');
  return keep ? `${keep}-${hash}` : hash;
}

/** A host (DNS-1123 subdomain) from a template: each placeholder value is lower-cased and cleaned. */
export function hostFromTemplate(template: string, values: Record<string, string>): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, k: string) => (values[k] ?? '').toLowerCase().replace(/[^a-z0-9.-]+/g, '-'));
  const labels = filled
    .toLowerCase()
    .split('.')
    .map((l) => trimTo(l, (c) => c !== 45 /* - */))
    .filter((l) => l.length > 0)
    .map((l) => (l.length <= 63 ? l : `${l.slice(0, 52).replace(/-+$/, '')}-${contentHash(l, 10)}`));
  return labels.join('.');
}
