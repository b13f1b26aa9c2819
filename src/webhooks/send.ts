/**
 * One signed POST to a webhook, guarded against server-side request forgery:
 * the host name is resolved here, every address it resolves to is checked
 * (`refusedAddress`) and the connection is made to those checked addresses
 * (the socket's `lookup`), so a second DNS answer cannot switch it to an
 * internal address (DNS rebinding). Redirects are not followed: a 3xx is a
 * failed attempt. Hosts in WEBHOOK_ALLOW_HOSTS skip the address check only.
 */
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { refusedAddress } from './addresses.js';

/** Resolves a host name to every address it has (node:dns by default; tests replace it to play a rebinding DNS server). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface SendOptions {
  /** Host names (or IP literals) exempt from the address check, lower case. */
  allowHosts: ReadonlySet<string>;
  /** The whole attempt, connecting included. */
  timeoutMs: number;
  resolve?: Resolver;
}

export interface SendOutcome {
  /** The receiver's HTTP status, or null when none came. */
  statusCode: number | null;
  /** Why the attempt failed, in words for the delivery log; null on 2xx. */
  error: string | null;
}

export const SIGNATURE_HEADER = 'x-ncii-signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed too, so a captured delivery cannot be replayed later as new. */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/** The host of a URL as an address or name: brackets of an IPv6 literal removed, lower case. */
export const urlHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/** Why `url` may not be called as it stands (scheme, credentials, an IP literal in a refused range), or null. */
export function refusedUrl(url: URL, allowHosts: ReadonlySet<string>): string | null {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs are allowed';
  if (url.username || url.password) return 'the URL must not hold a user name or password (deliveries are signed with the webhook secret instead)';
  const host = urlHost(url);
  if (allowHosts.has(host) || !isIP(host)) return null;
  const why = refusedAddress(host);
  return why && `${host} is a ${why} address`;
}

/** A socket `lookup` that resolves, checks every address, and hands the socket only checked ones. */
function guardedLookup(resolve: Resolver, check: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const addresses = options.family ? found.filter((a) => a.family === options.family) : found;
        const refused = check ? addresses.map((a) => [a.address, refusedAddress(a.address)] as const).find(([, why]) => why) : undefined;
        if (addresses.length === 0) callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        else if (refused) callback(Object.assign(new Error(`${hostname} resolves to ${refused[0]}, a ${refused[1]} address`), { code: 'EREFUSED_ADDRESS' }), '', 0);
        else if (options.all) (callback as unknown as (err: null, all: LookupAddress[]) => void)(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

/** POSTs `body` to `url` with its signature; never throws: the outcome says what happened. */
export function sendSigned(url: string, body: string, headers: Record<string, string>, secret: string, options: SendOptions): Promise<SendOutcome> {
  const target = new URL(url);
  const refused = refusedUrl(target, options.allowHosts);
  if (refused) return Promise.resolve({ statusCode: null, error: `refused: ${refused}` });
  const check = !options.allowHosts.has(urlHost(target));
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(target, {
      method: 'POST',
      agent: false,
      lookup: guardedLookup(options.resolve ?? systemResolver, check),
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'ncii-match-webhooks',
        [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(Date.now() / 1000)),
      },
    });
    const deadline = setTimeout(() => request.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })), options.timeoutMs);
    request.on('response', (response) => {
      clearTimeout(deadline);
      // The answer's body is of no use here: the connection (never reused) is closed at once, so an endless body cannot hold it open.
      response.destroy();
      const status = response.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const error = ok ? null : status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
      resolve({ statusCode: status, error });
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      const refusal = err.code === 'EREFUSED_ADDRESS';
      resolve({ statusCode: null, error: refusal ? `refused: ${err.message}` : `${err.code ?? 'ERROR'}: ${err.message}` });
    });
    request.end(body);
  });
}
