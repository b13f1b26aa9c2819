/**
 * Which addresses a webhook may reach: only public unicast ones. Loopback,
 * private, link-local, CGNAT, multicast, unspecified, documentation and other
 * special-purpose ranges are refused, and so is an IPv6 address that embeds a
 * refused IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4), so the
 * service cannot be made to call its own network (SSRF).
 */
import { BlockList, isIP } from 'node:net';

/** IPv4 ranges no webhook may reach (RFC 6890 and its successors). */
const REFUSED_V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast'],
];

/** IPv6 ranges no webhook may reach; the ranges that embed IPv4 are judged by the IPv4 address instead (see `embeddedV4`). */
const REFUSED_V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 32, 'Teredo'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

function blockList(ranges: [string, number, string][], type: 'ipv4' | 'ipv6'): { list: BlockList; ranges: [BlockList, string][] } {
  const list = new BlockList();
  for (const [net, prefix] of ranges) list.addSubnet(net, prefix, type);
  return {
    list,
    ranges: ranges.map(([net, prefix, why]) => {
      const one = new BlockList();
      one.addSubnet(net, prefix, type);
      return [one, why];
    }),
  };
}

const V4 = blockList(REFUSED_V4, 'ipv4');
const V6 = blockList(REFUSED_V6, 'ipv6');

/** The 16 bytes of an IPv6 address (with or without an embedded dotted IPv4 tail or a zone). */
export function ipv6Bytes(address: string): Uint8Array {
  let text = address.split('%')[0].toLowerCase();
  const bytes = new Uint8Array(16);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  });
  return bytes;
}

const v4At = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const zeros = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/** The IPv4 address an IPv6 address stands for, where it embeds one: ::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d, 2002:aabb:ccdd::. */
function embeddedV4(b: Uint8Array): string | null {
  if (zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4At(b, 12);
  if (zeros(b, 0, 12)) return v4At(b, 12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(b, 4, 12)) return v4At(b, 12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4At(b, 2);
  return null;
}

/** Why `address` (an IP literal) may not be reached, or null if it may. */
export function refusedAddress(address: string): string | null {
  const family = isIP(address.split('%')[0]);
  if (family === 4) {
    if (!V4.list.check(address, 'ipv4')) return null;
    return V4.ranges.find(([list]) => list.check(address, 'ipv4'))![1];
  }
  if (family !== 6) return 'not an IP address';
  const canonical = address.split('%')[0];
  if (V6.list.check(canonical, 'ipv6')) return V6.ranges.find(([list]) => list.check(canonical, 'ipv6'))![1];
  const v4 = embeddedV4(ipv6Bytes(canonical));
  if (v4 === null) return null;
  const why = refusedAddress(v4);
  return why && `${why} (IPv4 ${v4} inside IPv6)`;
}
