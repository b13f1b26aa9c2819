/**
 * Every (route x caller) pair: the routes come from the app's own route table,
 * so a route added later is covered without touching this file; the role
 * matrix itself is checked against the contract (issue 4, "Roles").
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp, type RouteEntry } from '../src/api/app.js';
import { PERMISSIONS, type Permission, ROLE_PERMISSIONS, type Role } from '../src/api/plugins/auth.js';
import { loadConfig } from '../src/config.js';
import { PDQ_DIR } from './helpers/fixtures.js';
import { multipartBody } from './helpers/form-data.js';

/** The contract's roles, written out rather than derived, so a change to ROLE_PERMISSIONS has to change this too. */
const CONTRACT: Record<Role, Permission[]> = {
  anonymous: ['hash', 'match:hashes', 'cases'],
  ngo: ['hash', 'match:hashes', 'cases', 'batches', 'match:image', 'evidence'],
  takedown: ['hash', 'match:hashes', 'cases', 'batches', 'match:image', 'evidence', 'banks', 'content', 'provenance:full', 'scans', 'webhooks', 'export'],
  admin: ['hash', 'match:hashes', 'cases', 'batches', 'match:image', 'evidence', 'banks', 'content', 'provenance:full', 'scans', 'webhooks', 'export', 'keys', 'audit', 'metrics'],
};

/** What each /v1 path needs, by the most specific matching prefix (undefined: open to everyone). */
const ROUTE_PERMISSIONS: [prefix: string, permission: Permission | undefined][] = [
  ['/v1/evidence/public-key', undefined],
  ['/v1/evidence', 'evidence'],
  ['/v1/hash', 'hash'],
  ['/v1/match', 'match:hashes'],
  ['/v1/banks/:id/content', 'content'],
  ['/v1/banks/:id/export', 'export'],
  ['/v1/banks/:id/import', 'banks'],
  ['/v1/banks/:id/telegram', 'banks'],
  ['/v1/banks', 'banks'],
  ['/v1/content', 'content'],
  // Her own case's hashes: any caller with the case number and PIN (the victim, or an NGO helping her).
  ['/v1/cases/:caseNumber/import', 'cases'],
  ['/v1/cases/:caseNumber/export', 'cases'],
  ['/v1/cases', 'cases'],
  ['/v1/batches', 'batches'],
  ['/v1/scans', 'scans'],
  ['/v1/scan-runs', 'scans'],
  ['/v1/matches', 'scans'],
  ['/v1/webhooks', 'webhooks'],
  ['/v1/keys', 'keys'],
  ['/v1/audit', 'audit'],
];

const dir = mkdtempSync(join(tmpdir(), 'ncii-roles-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({
  config: loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', KEYED_REQUESTS_PER_MINUTE: '100000' }),
  logger: false,
});
await app.ready();
t.teardown(() => app.close());

const secretFor = (role: 'ngo' | 'takedown' | 'admin') => app.services.keys.create({ name: `roles test ${role}`, role }).secret;
const revoked = app.services.keys.create({ name: 'roles test revoked', role: 'admin' });
app.services.keys.revoke(revoked.key.id);

interface Caller {
  name: string;
  /** The role the key grants; null for keys that must be refused. */
  role: Role | null;
  authorization?: string;
}
const CALLERS: Caller[] = [
  { name: 'anonymous', role: 'anonymous' },
  { name: 'ngo', role: 'ngo', authorization: `Bearer ${secretFor('ngo')}` },
  { name: 'takedown', role: 'takedown', authorization: `Bearer ${secretFor('takedown')}` },
  { name: 'admin', role: 'admin', authorization: `Bearer ${secretFor('admin')}` },
  { name: 'wrong key', role: null, authorization: `Bearer nm_${'x'.repeat(43)}` },
  { name: 'revoked key', role: null, authorization: `Bearer ${revoked.secret}` },
  { name: 'not a bearer header', role: null, authorization: 'Basic dXNlcjpwYXNz' },
];

/** A concrete URL for a route pattern: every parameter 1 (nothing exists, so handlers answer 404 at most). */
const concreteUrl = (url: string) => url.replace(/:[A-Za-z]+/g, '1').replace(/\*$/, 'index.html');

const routes: RouteEntry[] = app.routeTable;

t.test('ROLE_PERMISSIONS is exactly the contract', async (t) => {
  t.same([...PERMISSIONS].sort(), [...CONTRACT.admin].sort(), 'admin has every permission there is');
  for (const role of Object.keys(CONTRACT) as Role[]) {
    t.same([...ROLE_PERMISSIONS[role]].sort(), [...CONTRACT[role]].sort(), `${role} has exactly the contract's permissions`);
  }
  t.same(Object.keys(ROLE_PERMISSIONS).sort(), Object.keys(CONTRACT).sort(), 'no role beyond the contract');
});

t.test('metrics need a key allowed to read them; health probes none', async (t) => {
  t.equal(routes.find((r) => r.url === '/metrics')?.permission, 'metrics');
  t.same(routes.filter((r) => r.ignoresCredentials).map((r) => r.url).sort(), ['/healthz', '/healthz', '/readyz', '/readyz'], 'GET and HEAD of the probes');
});

t.test('every /v1 route declares the permission the contract gives its path', async (t) => {
  const v1 = routes.filter((r) => r.url.startsWith('/v1/'));
  t.ok(v1.some((r) => r.url === '/v1/hash'), 'the route table sees routes registered inside plugins');
  for (const route of v1) {
    const rule = ROUTE_PERMISSIONS.find(([prefix]) => route.url === prefix || route.url.startsWith(`${prefix}/`));
    t.ok(rule, `${route.method} ${route.url} is in the contract table (add it to ROUTE_PERMISSIONS)`);
    if (rule) t.equal(route.permission, rule[1], `${route.method} ${route.url} needs ${rule[1]}`);
  }
});

t.test('every route x caller', async (t) => {
  t.ok(routes.length >= 6, `${routes.length} routes in the table`);
  for (const route of routes) {
    for (const caller of CALLERS) {
      const headers: Record<string, string> = caller.authorization ? { authorization: caller.authorization } : {};
      const hasBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method);
      const res = await app.inject({
        method: route.method as 'GET',
        url: concreteUrl(route.url),
        headers: hasBody ? { ...headers, 'content-type': 'application/json' } : headers,
        ...(hasBody ? { payload: '{}' } : {}),
      });
      const label = `${caller.name} ${route.method} ${route.url} -> ${res.statusCode}`;
      const isJson = String(res.headers['content-type']).startsWith('application/json') && res.body !== '';
      const code = isJson ? (res.json() as { error?: { code: string } }).error?.code : undefined;
      if (route.ignoresCredentials) {
        t.equal(res.statusCode, 200, `${label}: a probe is answered whatever the Authorization header says`);
      } else if (caller.role === null) {
        t.equal(res.statusCode, 401, label);
        if (route.method !== 'HEAD') t.equal(code, 'UNAUTHORIZED', label);
      } else if (route.permission && !ROLE_PERMISSIONS[caller.role].has(route.permission)) {
        const status = caller.role === 'anonymous' ? 401 : 403;
        t.equal(res.statusCode, status, label);
        if (route.method !== 'HEAD') t.equal(code, status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', label);
      } else {
        t.notOk([401, 403].includes(res.statusCode), label);
        t.not(res.statusCode, 500, label);
      }
    }
  }
});

t.test('match by image needs an ngo key, match by hashes does not', async (t) => {
  if (!routes.some((r) => r.method === 'POST' && r.url === '/v1/match')) {
    t.comment('POST /v1/match is not registered yet');
    return;
  }
  const image = readFileSync(`${PDQ_DIR}q0122.jpg`);
  for (const caller of CALLERS.filter((c) => c.role !== null)) {
    const headers: Record<string, string> = caller.authorization ? { authorization: caller.authorization } : {};
    const byImage = await app.inject({ method: 'POST', url: '/v1/match', ...multipartBody([{ name: 'image', filename: 'q.jpg', type: 'image/jpeg', data: image }], headers) });
    const allowed = ROLE_PERMISSIONS[caller.role!].has('match:image');
    if (allowed) t.equal(byImage.statusCode, 200, `${caller.name} may match by image`);
    else t.equal(byImage.statusCode, 401, `${caller.name} may not match by image`);
    const byHash = await app.inject({ method: 'POST', url: '/v1/match', headers, payload: { signals: [{ type: 'pdq', hash: 'f'.repeat(64) }] } });
    t.equal(byHash.statusCode, 200, `${caller.name} may match by hashes`);
  }
});

t.test('refusals are audited under the caller, never with the presented secret', async (t) => {
  const entries = app.services.audit.list({ limit: 10_000 });
  const someRouteForbidsNgo = routes.some((r) => r.url.startsWith('/v1/') && r.permission && !ROLE_PERMISSIONS.ngo.has(r.permission));
  if (someRouteForbidsNgo) t.ok(entries.some((e) => e.status === 403 && e.actor.startsWith('key:')), 'a 403 names the key');
  t.ok(entries.some((e) => e.status === 401 && e.actor.startsWith('anonymous:')), 'a 401 is anonymous');
  const text = JSON.stringify(entries);
  for (const caller of CALLERS) if (caller.authorization) t.notOk(text.includes(caller.authorization.split(' ')[1]), `no ${caller.name} secret in the audit log`);
});
