/**
 * The OpenAPI description serves a generated client: types are generated
 * with openapi-typescript from the app's live document, a client written with
 * openapi-fetch calls every operation (multipart ones with FormData) and
 * must type-check with the TypeScript compiler, and some of its calls then
 * run against a live server. If the document drifts so that a client cannot
 * be typed (an operation missing or renamed, a body left undescribed, a
 * field renamed), this fails.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import t from 'tap';
import ts from 'typescript';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { GOOD_JPEG } from './helpers/hostile-inputs.js';

const ROOT = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ncii-openapi-client-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent', KEYED_REQUESTS_PER_MINUTE: '100000' }), logger: false });
await app.ready();
t.teardown(() => app.close());

type Operation = { operationId?: string; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { description: string }>; parameters?: { in: string; name: string; required?: boolean }[] };
// The document as a client fetches it.
const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
const find = (method: string, path: string) => operations.find((o) => o.method === method && o.path === path)!.op;

t.test('the document names what a client needs', async (t) => {
  const ids = operations.map((o) => o.op.operationId);
  t.notOk(ids.includes(undefined), 'every operation has an operationId');
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  for (const { path, method, op } of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      t.not(response.description, 'Default Response', `${method} ${path} ${status} says what it answers`);
    }
  }
  const names = Object.keys(doc.components.schemas);
  t.ok(names.includes('ErrorResponse'), 'the error schema is named ErrorResponse');
  t.same(names.filter((n) => /^def-\d+$/.test(n)), [], 'no component is named def-N');
  t.ok(['Batch', 'MatchResponse', 'CaseCreated', 'Match', 'ImageHashes'].every((n) => names.includes(n)), 'responses are named components');
  t.same(Object.keys(find('post', '/v1/hash').requestBody!.content), ['multipart/form-data'], 'POST /v1/hash takes an image');
  for (const path of ['/v1/cases', '/v1/batches', '/v1/match', '/v1/banks/{id}/content']) {
    t.same(Object.keys(find('post', path).requestBody!.content).sort(), ['application/json', 'multipart/form-data'], `POST ${path} takes JSON or images`);
  }
  const query = find('get', '/v1/batches/{id}').parameters!.filter((p) => p.in === 'query');
  t.same(query.map((p) => [p.name, p.required ?? false]).sort(), [['limit', false], ['offset', false]], 'offset and limit have defaults, so are optional');
});

/** The client: one call per operation, keyed by operationId, so the compiler refuses it if an operation is added, renamed or gone. */
const CLIENT = `
import createClient from 'openapi-fetch';
import type { operations, paths, components } from './api.js';

/** Multipart bodies as FormData: files as Blobs (with a filename), the rest as text fields. */
export function form(body: object): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(body)) {
    for (const item of [value].flat()) {
      if (item instanceof Blob) data.append(name, item, 'photo.jpg');
      else if (item !== undefined) data.append(name, String(item));
    }
  }
  return data;
}

export type Batch = components['schemas']['Batch'];

/** A hash list of one PDQ hash, as an NGO sends one (python-threatexchange's local file). */
export const IMPORTED_PDQ = 'c3'.repeat(32);

export function calls(baseUrl: string, key: string, image: Blob) {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${key}\` } });
  const anonymous = createClient<paths>({ baseUrl });
  const all: { [Id in keyof operations]: (id: number | string, pin?: string) => Promise<{ response: Response }> } = {
    health: () => anonymous.GET('/healthz'),
    ready: () => anonymous.GET('/readyz'),
    hashImage: () => anonymous.POST('/v1/hash', { body: { image, dihedral: 'true' }, bodySerializer: form }),
    match: () => api.POST('/v1/match', { body: { image, mode: 'robust', threshold: '31' }, bodySerializer: form }),
    createBank: () => api.POST('/v1/banks', { body: { name: 'generated client', thresholds: { pdq: 31 } } }),
    listBanks: () => api.GET('/v1/banks'),
    getBank: (id) => api.GET('/v1/banks/{id}', { params: { path: { id: Number(id) } } }),
    updateBank: (id) => api.PATCH('/v1/banks/{id}', { params: { path: { id: Number(id) } }, body: { description: 'from a generated client' } }),
    deleteBank: (id) => api.DELETE('/v1/banks/{id}', { params: { path: { id: Number(id) } } }),
    addContent: (id) =>
      api.POST('/v1/banks/{id}/content', { params: { path: { id: Number(id) } }, body: { image: [image], group: 'g', platform: 'telegram' }, bodySerializer: form }),
    listContent: (id) => api.GET('/v1/banks/{id}/content', { params: { path: { id: Number(id) }, query: { limit: 10 } } }),
    getContent: (id) => api.GET('/v1/content/{id}', { params: { path: { id: Number(id) } } }),
    updateContent: (id) => api.PATCH('/v1/content/{id}', { params: { path: { id: Number(id) } }, body: { note: 'seen' } }),
    deleteContent: (id) => api.DELETE('/v1/content/{id}', { params: { path: { id: Number(id) } } }),
    createCase: () => anonymous.POST('/v1/cases', { body: { image: [image], language: 'hr' }, bodySerializer: form }),
    getCase: (caseNumber, pin) => anonymous.GET('/v1/cases/{caseNumber}', { params: { path: { caseNumber: String(caseNumber) }, header: { 'x-case-pin': pin! } } }),
    withdrawCase: (caseNumber, pin) => anonymous.DELETE('/v1/cases/{caseNumber}', { params: { path: { caseNumber: String(caseNumber) }, header: { 'x-case-pin': pin! } } }),
    createBatch: () => api.POST('/v1/batches', { body: { signals: [{ type: 'pdq', hash: '0'.repeat(64) }], mode: 'pdq' } }),
    getBatch: (id) => api.GET('/v1/batches/{id}', { params: { path: { id: String(id) } } }),
    createScan: () => api.POST('/v1/scans', { body: { name: 'generated client', cron: '0 */4 * * *', timeZone: 'UTC', banks: 'all', cases: 'all' } }),
    listScans: () => api.GET('/v1/scans'),
    getScan: (id) => api.GET('/v1/scans/{id}', { params: { path: { id: Number(id) } } }),
    updateScan: (id) => api.PATCH('/v1/scans/{id}', { params: { path: { id: Number(id) } }, body: { enabled: false, thresholds: { threshold: 31 } } }),
    deleteScan: (id) => api.DELETE('/v1/scans/{id}', { params: { path: { id: Number(id) } } }),
    runScan: (id) => api.POST('/v1/scans/{id}/run', { params: { path: { id: Number(id) } } }),
    getScanRun: (id) => api.GET('/v1/scan-runs/{id}', { params: { path: { id: Number(id) } } }),
    getScanRunReport: (id) => api.GET('/v1/scan-runs/{id}/report', { params: { path: { id: Number(id) }, query: { format: 'csv' } }, parseAs: 'text' }),
    listScanMatches: () => api.GET('/v1/matches', { params: { query: { status: 'new', limit: 10 } } }),
    getScanMatch: (id) => api.GET('/v1/matches/{id}', { params: { path: { id: Number(id) } } }),
    updateScanMatch: (id) => api.PATCH('/v1/matches/{id}', { params: { path: { id: Number(id) } }, body: { status: 'reported', where: 'Telegram abuse form', reference: 'T-1' } }),
    createWebhook: () => api.POST('/v1/webhooks', { body: { url: 'https://example.org/hook', events: ['scan.run.finished'] } }),
    listWebhooks: () => api.GET('/v1/webhooks'),
    listWebhookDeliveries: (id) => api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: Number(id) }, query: { limit: 10 } } }),
    deleteWebhook: (id) => api.DELETE('/v1/webhooks/{id}', { params: { path: { id: Number(id) } } }),
    listAudit: () => api.GET('/v1/audit', { params: { query: { action: 'content.ingested', limit: 10 } } }),
    createEvidence: (caseNumber) => api.POST('/v1/evidence', { body: { caseNumber: String(caseNumber), language: 'sq' }, parseAs: 'blob' }),
    getCaseEvidence: (caseNumber, pin) =>
      anonymous.GET('/v1/cases/{caseNumber}/evidence', { params: { path: { caseNumber: String(caseNumber) }, header: { 'x-case-pin': pin! } }, parseAs: 'blob' }),
    listEvidenceKeys: () => anonymous.GET('/v1/evidence/public-key'),
    importBank: (id) =>
      api.POST('/v1/banks/{id}/import', {
        params: { path: { id: Number(id) }, query: { format: 'te-file' } },
        body: new Blob([\`pdq \${IMPORTED_PDQ}\\n\`], { type: 'text/plain' }),
        bodySerializer: (file) => file,
        headers: { 'content-type': 'text/plain' },
      }),
    importTelegram: (id) =>
      api.POST('/v1/banks/{id}/telegram', {
        params: { path: { id: Number(id) }, query: { username: 'example_group' } },
        body: new Blob([], { type: 'application/zip' }),
        bodySerializer: (zip) => zip,
        headers: { 'content-type': 'application/zip' },
      }),
    exportBank: (id) => api.GET('/v1/banks/{id}/export', { params: { path: { id: Number(id) }, query: { format: 'csv' } }, parseAs: 'text' }),
    importCase: (caseNumber, pin) =>
      anonymous.POST('/v1/cases/{caseNumber}/import', {
        params: { path: { caseNumber: String(caseNumber) }, header: { 'x-case-pin': pin! }, query: { format: 'te-file' } },
        body: new Blob([\`pdq \${IMPORTED_PDQ}\\n\`], { type: 'text/plain' }),
        bodySerializer: (file) => file,
        headers: { 'content-type': 'text/plain' },
      }),
    exportCase: (caseNumber, pin) =>
      anonymous.GET('/v1/cases/{caseNumber}/export', { params: { path: { caseNumber: String(caseNumber) }, header: { 'x-case-pin': pin! }, query: { format: 'stopncii' } }, parseAs: 'text' }),
  };
  return { api, anonymous, all };
}

/** Typed results, read as a client would. */
export async function hashThenMatch(baseUrl: string, key: string, image: Blob) {
  const { api, anonymous } = calls(baseUrl, key, image);
  const hashed = await anonymous.POST('/v1/hash', { body: { image }, bodySerializer: form });
  const pdq: string = hashed.data!.pdq;
  const quality: number = hashed.data!.pdqQuality;
  const matched = await api.POST('/v1/match', { body: { signals: [{ type: 'pdq', hash: pdq }] } });
  const first: components['schemas']['Match'] | undefined = matched.data?.matches[0];
  return { pdq, quality, contentId: first?.contentId, platform: first?.provenance.platform };
}

export async function batchImages(baseUrl: string, key: string, image: Blob): Promise<Batch | undefined> {
  const { api } = calls(baseUrl, key, image);
  const created = await api.POST('/v1/batches', { body: { image: [image, image] }, bodySerializer: form });
  const id: string = created.data!.batchId;
  for (;;) {
    const { data } = await api.GET('/v1/batches/{id}', { params: { path: { id } } });
    if (!data || data.status === 'done' || data.status === 'expired') return data;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
`;

/** A client that must not type-check: proves the check reads the generated types (a client typed as `any` would pass anything). */
const WRONG = `
import createClient from 'openapi-fetch';
import type { paths } from './api.js';
const api = createClient<paths>({ baseUrl: 'http://localhost' });
export const a = api.GET('/v1/no-such-route');
export const b = api.POST('/v1/match', { body: { signals: [{ type: 'phash', hash: 'ab' }] } });
export const c = api.GET('/v1/batches/{id}', { params: { path: { id: 1 } } });
`;

/** Types from the document; a binary string (a file part) is a Blob, as FormData takes it. */
async function generateTypes(): Promise<string> {
  const binary = ts.factory.createTypeReferenceNode('Blob');
  const ast = await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0], { transform: (schema) => (schema.format === 'binary' ? binary : undefined) });
  return astToString(ast);
}

function typeCheck(files: string[]): ts.Diagnostic[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
  });
  return [...ts.getPreEmitDiagnostics(program)];
}

/** What the test reads of the client module (which the compiler checked against the generated types above). */
interface ClientModule {
  IMPORTED_PDQ: string;
  calls(baseUrl: string, key: string, image: Blob): { all: Record<string, (id: number | string, pin?: string) => Promise<{ response: Response; data?: unknown }>> };
  hashThenMatch(baseUrl: string, key: string, image: Blob): Promise<{ pdq: string; quality: number; contentId?: number; platform?: string }>;
  batchImages(baseUrl: string, key: string, image: Blob): Promise<{ status: string; items: { matches?: { contentId: number }[] }[] } | undefined>;
}

const describe = (d: ts.Diagnostic) => `${d.file?.fileName.split('/').pop() ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;

const client = join(dir, 'client.ts');
const wrong = join(dir, 'wrong.ts');
writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
writeFileSync(join(dir, 'api.ts'), await generateTypes());
writeFileSync(client, CLIENT);
writeFileSync(wrong, WRONG);

t.test('a client of every operation type-checks against the generated types', async (t) => {
  const diagnostics = typeCheck([client, wrong]);
  t.same(diagnostics.filter((d) => d.file?.fileName !== wrong).map(describe), [], 'the client type-checks');
  const refused = diagnostics.filter((d) => d.file?.fileName === wrong).map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line);
  t.same([...new Set(refused)].sort(), [4, 5, 6], 'an unknown route, an unknown signal type and a numeric batch id are refused');
});

t.test('the generated client works against a live server', async (t) => {
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const module = (await import(pathToFileURL(client).href)) as ClientModule;
  const takedown = app.services.keys.create({ name: 'client takedown', role: 'takedown' }).secret;
  const image = new Blob([GOOD_JPEG], { type: 'image/jpeg' });
  const { all } = module.calls(address, takedown, image);

  t.equal((await all.health(0)).response.status, 200, 'health');
  const bank = (await all.createBank(0)) as { response: Response; data?: { id: number } };
  t.equal(bank.response.status, 201, 'createBank (JSON)');
  const added = (await all.addContent(bank.data!.id)) as { response: Response; data?: { items: { id: number }[] } };
  t.equal(added.response.status, 201, 'addContent (multipart)');
  t.equal((await all.updateBank(bank.data!.id)).response.status, 200, 'updateBank');
  t.equal((await all.listContent(bank.data!.id)).response.status, 200, 'listContent (query params)');
  const imported = (await all.importBank(bank.data!.id)) as { response: Response; data?: { added: number } };
  t.equal(imported.response.status, 200, 'importBank (a streamed file body)');
  t.equal(imported.data?.added, 1, 'the hash list added its item');
  const exported = (await all.exportBank(bank.data!.id)) as { response: Response; data?: string };
  t.equal(exported.response.status, 200, 'exportBank (a streamed answer, read as text)');
  t.ok(exported.data?.includes(module.IMPORTED_PDQ), 'the export holds the imported hash');
  t.equal((await all.listEvidenceKeys(0)).response.status, 200, 'listEvidenceKeys');

  const found = await module.hashThenMatch(address, takedown, image);
  t.match(found.pdq, /^[0-9a-f]{64}$/, 'hashImage (multipart) answers a typed PDQ hash');
  t.equal(found.contentId, added.data!.items[0].id, 'matching its PDQ finds the item added from the same image');
  t.equal(found.platform, 'telegram');

  const imageMatch = (await all.match(0)) as { response: Response; data?: { matches: { contentId: number }[] } };
  t.equal(imageMatch.response.status, 200, 'match (multipart, with form fields)');
  t.ok(imageMatch.data!.matches.some((m) => m.contentId === added.data!.items[0].id), 'the image matches the item');

  const batch = await module.batchImages(address, takedown, image);
  t.equal(batch?.status, 'done', 'createBatch (multipart) and getBatch with default paging');
  t.same(batch?.items.map((i) => i.matches?.some((m) => m.contentId === added.data!.items[0].id)), [true, true], 'both batch items found it');

  const created = (await all.createCase(0)) as { response: Response; data?: { caseNumber: string; pin: string } };
  t.equal(created.response.status, 201, 'createCase (multipart)');
  t.equal((await all.getCase(created.data!.caseNumber, created.data!.pin)).response.status, 200, 'getCase (PIN header)');
  const intoCase = (await all.importCase(created.data!.caseNumber, created.data!.pin)) as { response: Response; data?: { added: number } };
  t.same([intoCase.response.status, intoCase.data?.added], [200, 1], 'importCase (PIN header, a streamed file body)');
  const fromCase = (await all.exportCase(created.data!.caseNumber, created.data!.pin)) as { response: Response; data?: string };
  t.equal(fromCase.response.status, 200, 'exportCase (PIN header, a streamed answer, read as text)');
  t.ok(fromCase.data?.includes(module.IMPORTED_PDQ), "the case's export holds the imported hash");
  t.equal((await all.withdrawCase(created.data!.caseNumber, created.data!.pin)).response.status, 204, 'withdrawCase');
  t.equal((await all.deleteContent(added.data!.items[0].id)).response.status, 204, 'deleteContent');
});
