/**
 * The client's IP address, for per-address limits and logs. Behind a load balancer every
 * connection comes from the balancer, so the address it forwards in X-Forwarded-For counts
 * instead, but only when the connection really comes from a proxy named in TRUST_PROXY:
 * anyone can send the header.
 */
import { BlockList, isIP } from 'node:net';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

/**
 * An address in one spelling: IPv4 dotted, IPv6 compressed lower case (RFC 5952), an
 * IPv4-mapped IPv6 address as the IPv4 address it maps. uWS reports a dual-stack socket's
 * peers in the long form (`0000:0000:0000:0000:0000:ffff:7f00:0001` for 127.0.0.1).
 * Null for anything that is not an address.
 */
export function canonicalIp(text: string): string | null {
  const address = text.trim();
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return null;
  // The WHATWG URL serialiser compresses and lower-cases IPv6 (a zone id is not part of the address).
  const compressed = new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (!mapped) return compressed;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export class InvalidProxyError extends Error {
  override name = 'InvalidProxyError';
}

/** The proxies named in TRUST_PROXY: exact addresses or CIDR blocks, IPv4 or IPv6. */
export class TrustedProxies {
  private readonly _list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) this._add(entry);
    this.size = entries.length;
  }

  /** Whether `ip` (canonical, see canonicalIp) is one of the trusted proxies. */
  has(ip: string): boolean {
    if (this.size === 0) return false;
    return this._list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
  }

  private _add(entry: string): void {
    const [rawAddress = '', bits, ...rest] = entry.trim().split('/');
    const address = canonicalIp(rawAddress);
    const v6 = isIP(rawAddress.trim()) === 6;
    const prefix = bits === undefined ? (v6 ? 128 : 32) : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!address || rest.length > 0 || !(prefix <= (v6 ? 128 : 32))) {
      throw new InvalidProxyError(`TRUST_PROXY entries must be IP addresses or CIDR blocks, got ${JSON.stringify(entry)}`);
    }
    if (isIP(address) === 4) {
      // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block it maps: addresses are compared canonical.
      const v4Prefix = v6 ? prefix - 96 : prefix;
      if (v4Prefix < 0) throw new InvalidProxyError(`TRUST_PROXY block ${JSON.stringify(entry)} is wider than the IPv4-mapped range`);
      this._list.addSubnet(address, v4Prefix, 'ipv4');
    } else {
      this._list.addSubnet(address, prefix, 'ipv6');
    }
  }
}

/**
 * The client behind `socketIp`: the socket's own address unless it is a trusted proxy; then,
 * walking X-Forwarded-For from the right (each proxy appends the address it saw), the first
 * address that is not itself a trusted proxy. A malformed entry means the header cannot be
 * believed past that point: the socket's address is used.
 */
export function resolveClientIp(socketIp: string, forwardedFor: readonly string[], trusted: TrustedProxies): string {
  if (!trusted.has(socketIp)) return socketIp;
  const hops = forwardedFor.flatMap((value) => value.split(',')).map((hop) => hop.trim()).filter((hop) => hop !== '');
  let client = socketIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonicalIp(hops[i]!.replace(/^\[(.*)\]$/, '$1'));
    if (!hop) return socketIp;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  // Every hop is a trusted proxy: the furthest one is as close to the client as we know.
  return client;
}

/**
 * The client address of a uWS request. Reads everything synchronously: uWS request objects
 * are dead once the handler returns.
 */
export function clientAddress(res: HttpResponse, req: HttpRequest, trusted: TrustedProxies): string {
  const raw = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  const socketIp = canonicalIp(raw) ?? raw;
  if (trusted.size === 0) return socketIp;
  const forwardedFor: string[] = [];
  // getHeader returns the first of repeated headers; a proxy may add its own X-Forwarded-For line.
  req.forEach((key, value) => {
    if (key === 'x-forwarded-for') forwardedFor.push(value);
  });
  return resolveClientIp(socketIp, forwardedFor, trusted);
}
