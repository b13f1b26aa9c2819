/**
 * Scheduled scans and their runs (src/services/scans.ts): takedown teams say
 * which banks and cases a scan covers and when it runs; a run can be started
 * now and followed.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';
import { BankFilter, errorResponses, IdParam, PerceptualThresholds } from '../schemas.js';

const tags = ['scans'];
const config = { permission: 'scans' as const };

const ScanThresholds = Type.Object(
  {
    threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'The PDQ threshold in bits, for whole-image and region hashes alike.' })),
    thresholds: Type.Optional(PerceptualThresholds),
  },
  { additionalProperties: false, description: 'How close a match must be, as on POST /v1/match; the types\' defaults when absent.' },
);

const CaseList = Type.Array(Type.String({ minLength: 1, maxLength: 40 }), { minItems: 1, maxItems: 10_000, uniqueItems: true, description: 'Case numbers.' });

const scanFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  cron: Type.String({ minLength: 1, maxLength: 200, description: 'When to run: a cron expression (5 fields, or 6 with seconds), e.g. "0 */4 * * *" for every four hours.' }),
  timeZone: Type.String({ minLength: 1, maxLength: 64, description: 'The IANA time zone the cron expression is read in, e.g. "UTC" or "Europe/Berlin".' }),
  banks: Type.Union([Type.Literal('all'), BankFilter], { description: '"all" or the bank ids whose content the scan covers.' }),
  cases: Type.Union([Type.Literal('all'), CaseList], { description: '"all" or the case numbers the scan covers.' }),
  thresholds: ScanThresholds,
  enabled: Type.Boolean({ description: 'false: kept, but not run on its schedule.' }),
};

const CreateScan = Type.Object(
  { name: scanFields.name, cron: scanFields.cron, timeZone: scanFields.timeZone, banks: Type.Optional(scanFields.banks), cases: Type.Optional(scanFields.cases), thresholds: Type.Optional(scanFields.thresholds), enabled: Type.Optional(scanFields.enabled) },
  { additionalProperties: false },
);
const PatchScan = Type.Partial(Type.Object(scanFields), { additionalProperties: false, minProperties: 1 });

const RunBody = Type.Object(
  {
    id: Type.Integer(),
    scanId: Type.Integer(),
    trigger: Type.Union([Type.Literal('manual'), Type.Literal('schedule'), Type.Literal('catch-up')]),
    status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    progress: Type.Object({ itemsDone: Type.Integer(), itemsTotal: Type.Integer(), casesDone: Type.Integer(), casesTotal: Type.Integer() }),
    newMatches: Type.Integer({ description: 'Matches this run recorded for the first time.' }),
    error: Type.Union([Type.String(), Type.Null()]),
    startedAt: Type.String(),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'ScanRun', title: 'ScanRun', description: 'A run of a scan: its status and progress.' },
);

const scanBody = {
  id: Type.Integer(),
  ...scanFields,
  thresholds: ScanThresholds,
  nextRunAt: Type.Union([Type.String(), Type.Null()], { description: 'The next slot of the schedule.' }),
  lastSuccessAt: Type.Union([Type.String(), Type.Null()], { description: 'When the last run that finished did.' }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
};
const ScanBody = Type.Object(scanBody, { $id: 'Scan', title: 'Scan', description: 'A scheduled scan: what it covers, when it runs and how close a match must be.' });
const ScanWithRuns = Type.Object(
  { ...scanBody, runs: Type.Array(Type.Ref('ScanRun'), { description: 'The latest runs, newest first.' }) },
  { title: 'ScanWithRuns', description: 'A scan and its latest runs.' },
);
const ScanList = Type.Object({ scans: Type.Array(Type.Ref('Scan')) }, { title: 'ScanList', description: 'Every scan.' });

const route = <S extends object>(operationId: string, summary: string, schema: S) => ({ config, schema: { tags, operationId, summary, ...schema } });

export async function scanRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(RunBody);
  app.addSchema(ScanBody);
  app.post('/v1/scans', route('createScan', 'Create a scheduled scan', { body: CreateScan, response: { 201: Type.Ref('Scan'), ...errorResponses(400, 401, 403, 404, 409) } }), async (request, reply) =>
    reply.code(201).send(services.scans.create(request.body, request.principal.actor)),
  );
  app.get('/v1/scans', route('listScans', 'Every scan', { response: { 200: ScanList, ...errorResponses(401, 403) } }), async () => ({ scans: services.scans.list() }));
  app.get('/v1/scans/:id', route('getScan', 'A scan and its latest runs', { params: IdParam, response: { 200: ScanWithRuns, ...errorResponses(400, 401, 403, 404) } }), async (request) =>
    services.scans.get(request.params.id),
  );
  app.patch('/v1/scans/:id', route('updateScan', 'Change a scan (changing banks, cases or thresholds makes its next run cover everything again)', { params: IdParam, body: PatchScan, response: { 200: Type.Ref('Scan'), ...errorResponses(400, 401, 403, 404, 409) } }), async (request) =>
    services.scans.update(request.params.id, request.body),
  );
  app.delete('/v1/scans/:id', route('deleteScan', 'Delete a scan with its runs and matches', { params: IdParam, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409) } }), async (request, reply) => {
    services.scans.remove(request.params.id);
    return reply.code(204).send(null);
  });
  app.post('/v1/scans/:id/run', route('runScan', 'Run a scan now (or resume its interrupted run); follow it with GET /v1/scan-runs/{id}', { params: IdParam, response: { 202: Type.Ref('ScanRun'), ...errorResponses(400, 401, 403, 404, 409) } }), async (request, reply) =>
    reply.code(202).send(await services.scans.runNow(request.params.id, request.principal.actor)),
  );
  app.get('/v1/scan-runs/:id', route('getScanRun', "A run's status and progress", { params: IdParam, response: { 200: Type.Ref('ScanRun'), ...errorResponses(400, 401, 403, 404) } }), async (request) =>
    services.scans.getRun(request.params.id),
  );
}
