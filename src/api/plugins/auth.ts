/**
 * Who is asking: `Authorization: Bearer <key>` names an API key (and its
 * role); no header means an anonymous client. A header that does not name a
 * live key is refused, never treated as anonymous, so a typo or a revoked key
 * is noticed. Each route states the permission it needs in its config.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { KeyRole } from '../../services/keys.js';
import { ApiError } from '../errors.js';
import type { Services } from '../../services/services.js';

export type Role = 'anonymous' | KeyRole;

export const PERMISSIONS = [
  'hash',
  'match:hashes',
  'match:image',
  'cases',
  'batches',
  'banks',
  'content',
  'provenance:full',
  'scans',
  'webhooks',
  'evidence',
  'export',
  'keys',
  'audit',
  'metrics',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ANONYMOUS: Permission[] = ['hash', 'match:hashes', 'cases'];
const NGO: Permission[] = [...ANONYMOUS, 'match:image', 'batches', 'evidence'];
const TAKEDOWN: Permission[] = [...NGO, 'banks', 'content', 'provenance:full', 'scans', 'webhooks', 'export'];

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  anonymous: new Set(ANONYMOUS),
  ngo: new Set(NGO),
  takedown: new Set(TAKEDOWN),
  admin: new Set(PERMISSIONS),
};

export interface Principal {
  role: Role;
  /** API key id, or null for anonymous clients. */
  keyId: number | null;
  /** How the audit log names this caller: `key:<id>` or `anonymous:<keyed hash of the address>`. */
  actor: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** What a caller must be allowed to do to use the route; absent = open to all. */
    permission?: Permission;
    /** Health probes: answered whatever Authorization says (a probe configured with a stale key must not read as down). */
    ignoresCredentials?: boolean;
  }
}

export function can(principal: Principal, permission: Permission): boolean {
  return ROLE_PERMISSIONS[principal.role].has(permission);
}

/** The refusal of a caller without `permission`: 401 without a key, 403 with one of a lesser role. */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (can(principal, permission)) return;
  if (principal.role === 'anonymous') {
    throw new ApiError(401, 'UNAUTHORIZED', 'This needs an API key (Authorization: Bearer <key>).', { 'www-authenticate': 'Bearer' });
  }
  throw new ApiError(403, 'FORBIDDEN', `A ${principal.role} key may not do this.`);
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{1,200})$/;

/**
 * The network a client address stands for, for per-client limits: an IPv4
 * address itself, an IPv6 address's first `ipv6PrefixBits` bits (one
 * subscriber gets at least a whole /64, so counting single IPv6 addresses
 * would give anyone unlimited tries).
 */
export function clientNetwork(ip: string, ipv6PrefixBits = 64): string {
  if (!isIPv6(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  const [head, tail = ''] = ip.toLowerCase().split('%')[0].split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  const kept = groups.slice(0, Math.ceil(ipv6PrefixBits / 16)).map((group, i) => {
    const bits = Math.min(16, ipv6PrefixBits - 16 * i);
    return ((parseInt(group, 16) >> (16 - bits)) << (16 - bits)).toString(16);
  });
  return `${kept.join(':')}::/${ipv6PrefixBits}`;
}

export const auth = fp(async (app: FastifyInstance, { services }: { services: Services }) => {
  // Client addresses are personal data: the audit log keeps only a keyed hash
  // (of the client's network, see clientNetwork), with a key that lives as
  // long as the process.
  const addressKey = randomBytes(32);
  const anonymousActor = (request: FastifyRequest) =>
    `anonymous:${createHmac('sha256', addressKey).update(clientNetwork(request.ip)).digest('hex').slice(0, 16)}`;

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    // Anonymous until a key is proven, so refused attempts are audited too.
    request.principal = { role: 'anonymous', keyId: null, actor: anonymousActor(request) };
    const header = request.headers.authorization;
    if (header === undefined || request.routeOptions.config.ignoresCredentials) return;
    const m = BEARER.exec(header);
    if (!m) throw new ApiError(401, 'UNAUTHORIZED', 'The Authorization header must be "Bearer <API key>".', { 'www-authenticate': 'Bearer' });
    const key = services.keys.findBySecret(m[1]);
    if (!key) throw new ApiError(401, 'UNAUTHORIZED', 'This API key is not valid.', { 'www-authenticate': 'Bearer' });
    if (key.revokedAt) throw new ApiError(401, 'UNAUTHORIZED', 'This API key has been revoked.', { 'www-authenticate': 'Bearer' });
    request.principal = { role: key.role, keyId: key.id, actor: `key:${key.id}` };
    services.keys.touch(key.id, new Date().toISOString());
  });
  // Checked before the body is parsed or validated: a caller without the
  // permission gets 401/403, not a validation error that describes the route,
  // and never makes the server read a large body first.
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config.permission;
    if (needed) requirePermission(request.principal, needed);
  });
});
