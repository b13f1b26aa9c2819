/**
 * The takedown workflow (src/services/matches.ts): what scans found, a page
 * at a time with filters; a match's status moved along; a run's report by
 * group, as JSON or CSV.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';
import { errorResponses, IdParam } from '../schemas.js';

const tags = ['matches'];
const config = { permission: 'scans' as const };
const Status = Type.Union([Type.Literal('new'), Type.Literal('reported'), Type.Literal('removed'), Type.Literal('dismissed')]);
const Text = (description: string) => Type.Union([Type.String(), Type.Null()], { description });
const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

const MatchBody = Type.Object(
  {
    id: Type.Integer(),
    scanId: Type.Integer(),
    runId: Type.Integer({ description: 'The run that found it first.' }),
    caseNumber: Type.String(),
    contentId: Type.Integer(),
    bankId: Type.Integer(),
    platform: Type.String(),
    group: Text('Group or channel name.'),
    messageUrl: Text('Link to (or id of) the message.'),
    capturedAt: Text('When it was seen there.'),
    signalType: Type.String(),
    distance: Type.Integer(),
    via: Type.Union([Type.Literal('whole'), Type.Literal('region')]),
    status: Status,
    reportedWhere: Text('To whom or where it was reported.'),
    reference: Text("The platform's or authority's reference number."),
    dismissReason: Text('Why it was dismissed.'),
    foundAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'ScanMatch', title: 'ScanMatch', description: 'A match a scan found, and where its takedown stands.' },
);

const EventBody = Type.Object({
  id: Type.Integer(),
  actor: Type.String({ description: 'key:<id> of whoever moved it, or scan-run:<id> for the run that found it.' }),
  from: Type.Union([Status, Type.Null()]),
  to: Status,
  details: Type.Record(Type.String(), Type.Unknown()),
  at: Type.String(),
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    bank: Type.Optional(Id),
    case: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'A case number.' })),
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    scan: Type.Optional(Id),
    run: Type.Optional(Id),
    since: Type.Optional(Type.String({ maxLength: 40, description: 'Found at or after (ISO-8601).' })),
    until: Type.Optional(Type.String({ maxLength: 40, description: 'Found before (ISO-8601).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 20, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

const PatchMatch = Type.Object(
  {
    status: Status,
    where: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'reported: to whom or where (e.g. "Telegram abuse form").' })),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'reported: the reference number given.' })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'dismissed: why (e.g. not the same photo).' })),
  },
  { additionalProperties: false },
);

const StatusCounts = Type.Object({ new: Type.Integer(), reported: Type.Integer(), removed: Type.Integer(), dismissed: Type.Integer() });
const ReportBody = Type.Object({
  runId: Type.Integer(),
  scanId: Type.Integer(),
  status: Type.String(),
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  matches: Type.Integer(),
  byStatus: StatusCounts,
  groups: Type.Array(
    Type.Object({
      platform: Type.String(),
      group: Type.Union([Type.String(), Type.Null()]),
      matches: Type.Integer(),
      byStatus: StatusCounts,
      items: Type.Array(
        Type.Object({ matchId: Type.Integer(), contentId: Type.Integer(), messageUrl: Text(''), capturedAt: Text(''), status: Status, reference: Text('') }),
      ),
    }),
    { description: 'One per group or channel, most matches first: one takedown request each.' },
  ),
}, { title: 'ScanRunReport', description: "A run's matches by group or channel, with counts by status." });
const MatchPage = Type.Object(
  { matches: Type.Array(Type.Ref('ScanMatch')), nextCursor: Type.Union([Type.String(), Type.Null()]) },
  { title: 'ScanMatchPage', description: 'A page of matches, newest first; nextCursor fetches the next (null on the last).' },
);
const MatchWithEvents = Type.Object({ ...MatchBody.properties, events: Type.Array(EventBody) }, { title: 'ScanMatchWithEvents', description: 'A match with every change of its status.' });

/** The CSV as a download, as it is (the JSON serializer is for the JSON answer). */
function sendCsv(reply: FastifyReply, runId: number, csv: string) {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="scan-run-${runId}.csv"`).serializer((body: unknown) => body as string).send(csv as never);
}

export async function matchesRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(MatchBody);
  app.get(
    '/v1/matches',
    {
      config,
      schema: {
        tags,
        operationId: 'listScanMatches',
        summary: 'What scans found, newest first, with filters and cursor pages',
        querystring: ListQuery,
        response: { 200: MatchPage, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => services.matches.list(request.query),
  );
  app.get(
    '/v1/matches/:id',
    { config, schema: { tags, operationId: 'getScanMatch', summary: 'A match with every change of its status', params: IdParam, response: { 200: MatchWithEvents, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => services.matches.get(request.params.id),
  );
  app.patch(
    '/v1/matches/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'updateScanMatch',
        summary: 'Move a match: new -> reported (where, reference) -> removed, or dismissed (reason); a dismissed one can be reopened as new',
        params: IdParam,
        body: PatchMatch,
        response: { 200: Type.Ref('ScanMatch'), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => services.matches.setStatus(request.params.id, request.body, request.principal.actor),
  );
  app.get(
    '/v1/scan-runs/:id/report',
    {
      config,
      schema: {
        tags,
        operationId: 'getScanRunReport',
        summary: "A run's matches by group or channel, with counts by status; format=csv for a spreadsheet",
        params: IdParam,
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })) }, { additionalProperties: false }),
        response: { 200: ReportBody, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => (request.query.format === 'csv' ? sendCsv(reply, request.params.id, services.matches.reportCsv(request.params.id)) : services.matches.report(request.params.id)),
  );
}
