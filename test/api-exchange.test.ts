/** POST /v1/banks/:id/import and GET /v1/banks/:id/export over HTTP (inject): streamed bodies, limits, strict mode, refusals. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-api-exchange-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, MAX_IMPORT_BYTES: '4096', MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false });
await app.ready();
t.teardown(() => app.close());
const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'exchange test', role: 'takedown' }).secret}` };
const ngo = { authorization: `Bearer ${app.services.keys.create({ name: 'exchange test ngo', role: 'ngo' }).secret}` };

const hex = (i: number, digits: number) => i.toString(16).padStart(digits, '0');
const bank = app.services.banks.create({ name: 'api exchange' });
const csv = ['signal_type,signal_str,collab,category,tags', ...Array.from({ length: 20 }, (_, i) => `pdq,${hex(i + 1, 64)},c,cat,x y`), 'pdq,nothex,c,cat,'].join('\n');

t.test('a takedown key imports a file and exports it back, streamed', async (t) => {
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=te-csv`, headers: { ...takedown, 'content-type': 'text/csv' }, payload: csv });
  t.equal(res.statusCode, 200);
  const report = res.json();
  t.same({ added: report.added, rejected: report.rejected, errors: report.errors.map((e: { line: number }) => e.line) }, { added: 20, rejected: 1, errors: [22] });
  const out = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=te-csv`, headers: takedown });
  t.equal(out.statusCode, 200);
  t.match(out.headers['content-type'], /^text\/csv/);
  t.match(out.headers['content-disposition'], /attachment; filename="bank-\d+\.csv"/);
  t.equal(out.body, csv.split('\n').slice(1, 21).map((l) => `${l}\n`).join(''), 'the valid rows, as they came');
  const json = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=stopncii`, headers: { ...takedown, 'content-type': 'application/json' }, payload: JSON.stringify({ hashRecords: [{ hashValue: hex(1, 64), signalType: 'ImagePDQ', hashStatus: 'Deleted' }], nextPageToken: 'n2' }) });
  t.same([json.statusCode, json.json().removed, json.json().nextPageToken], [200, 1, 'n2'], 'a JSON body streams too, not parsed by the app');
});

t.test('strict: a malformed row refuses the file and nothing is imported', async (t) => {
  const other = app.services.banks.create({ name: 'api exchange strict' });
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${other.id}/import?format=te-csv&strict=true`, headers: { ...takedown, 'content-type': 'text/csv' }, payload: csv });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, { code: 'INVALID_REQUEST', message: /^line 22: .*Nothing was imported/ });
  t.equal(app.services.store.listContent(other.id, { limit: 10 }).length, 0);
});

t.test('limits and refusals', async (t) => {
  const big = `${'pdq ' + 'a'.repeat(64) + '\n'}`.repeat(100);
  const tooLarge = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=te-file`, headers: { ...takedown, 'content-type': 'text/plain' }, payload: big });
  t.same([tooLarge.statusCode, tooLarge.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a declared length over MAX_IMPORT_BYTES');
  const chunked = await app.inject({
    method: 'POST',
    url: `/v1/banks/${bank.id}/import?format=hma-json`,
    headers: { ...takedown, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    payload: Readable.from(
      (function* () {
        yield '{"content":[';
        for (let i = 0; i < 100; i++) yield `${i ? ',' : ''}{"signals":{"pdq":"${hex(i + 100, 64)}"}}`;
        yield ']}';
      })(),
    ),
  });
  t.same([chunked.statusCode, chunked.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a body without a length, over the limit as it streams');
  const badFormat = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=xml`, headers: takedown });
  t.equal(badFormat.statusCode, 400);
  const missing = await app.inject({ method: 'GET', url: '/v1/banks/999999/export?format=csv', headers: takedown });
  t.equal(missing.statusCode, 404);
  const missingImport = await app.inject({ method: 'POST', url: '/v1/banks/999999/import?format=csv', headers: { ...takedown, 'content-type': 'text/csv' }, payload: 'x' });
  t.equal(missingImport.statusCode, 404);
  const forbidden = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=csv`, headers: ngo });
  t.equal(forbidden.statusCode, 403, 'an ngo key may not export');
  const noBody = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=csv`, headers: takedown });
  t.equal(noBody.statusCode, 400, 'no body');
  const multipart = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=csv`, headers: { ...takedown, 'content-type': 'image/png' }, payload: 'x' });
  t.equal(multipart.statusCode, 415);
});
