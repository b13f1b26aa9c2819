/**
 * The JSON formats, streamed with stream-json: HMA's bank content (signal
 * type to hash, with the content's metadata) and StopNCII-style hash records,
 * a page at a time with a next-page token.
 */
import type { Readable } from 'node:stream';
import type { KnownSignalType } from '../hashing/registry.js';
import { type JsonPath, valuesAt } from './json-values.js';
import {
  type ExchangeRecord,
  type ExchangeSignal,
  type ExportItem,
  fromStopnciiName,
  fromTeName,
  modifiedAtOf,
  parsedSignal,
  type ReadItem,
  reasonOf,
  stopnciiName,
  teName,
} from './records.js';

/** What a page says besides its records. */
export interface PageInfo {
  nextPageToken?: string | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Records of a top-level array, or of the array under `key` of a top-level object; `onOther` sees the object's other top-level values. */
async function* jsonRecords(
  source: Readable,
  key: string,
  read: (value: unknown) => ExchangeRecord,
  onOther: (path: JsonPath, value: unknown) => void = () => {},
): AsyncGenerator<ReadItem> {
  const wanted = (path: JsonPath) => (path.length === 1 && typeof path[0] === 'number') || (path.length === 2 && path[0] === key && typeof path[1] === 'number') || (path.length === 1 && path[0] !== key);
  let n = 0;
  try {
    for await (const { path, value } of valuesAt(source, wanted)) {
      if (path.length === 1 && typeof path[0] === 'string') {
        onOther(path, value);
        continue;
      }
      n++;
      try {
        yield { line: n, record: read(value) };
      } catch (err) {
        yield { line: n, error: reasonOf(err) };
      }
    }
  } catch (err) {
    // The source failing (a body over its limit, a dropped connection) is not the file's fault.
    if (source.errored) throw err;
    // A syntax error ends the document: nothing after it can be read.
    yield { line: n + 1, error: `not valid JSON after record ${n}: ${reasonOf(err)}` };
  }
}

function hmaSignals(signals: unknown): ExchangeSignal[] {
  if (!isObject(signals)) throw new Error('"signals" must be an object of signal type to hash');
  const out: ExchangeSignal[] = [];
  for (const [name, hashes] of Object.entries(signals)) {
    for (const hash of Array.isArray(hashes) ? hashes : [hashes]) out.push(parsedSignal(fromTeName(name), name, hash));
  }
  if (out.length === 0) throw new Error('"signals" is empty');
  return out;
}

const optionalString = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);

function hmaRecord(value: unknown): ExchangeRecord {
  if (!isObject(value)) throw new Error('each content entry must be an object with "signals"');
  const metadata = isObject(value.metadata) ? value.metadata : {};
  const json = isObject(metadata.json) ? metadata.json : {};
  return {
    signals: hmaSignals(value.signals),
    provenance: {
      platform: optionalString(json.platform) ?? 'hma',
      channel: optionalString(json.group),
      messageRef: optionalString(metadata.content_uri),
      capturedAt: optionalString(json.captured_at),
    },
    metadata: isObject(json.metadata) ? json.metadata : {},
    note: optionalString(json.note),
  };
}

export function readHmaJson(source: Readable): AsyncGenerator<ReadItem> {
  return jsonRecords(source, 'content', hmaRecord);
}

/** Types with several hashes in one item (region hashes) are written as an array. */
function hmaSignalsOf(signals: readonly ExchangeSignal[]): Record<string, string | string[]> {
  const byType = new Map<KnownSignalType, string[]>();
  for (const s of signals) byType.set(s.type, [...(byType.get(s.type) ?? []), s.type.format(s.hash)]);
  return Object.fromEntries([...byType].map(([type, hashes]) => [teName(type), type.scope === 'region' ? hashes : hashes[0]]));
}

export async function* writeHmaJson(items: AsyncIterable<ExportItem>, bank: { name: string; description: string }): AsyncGenerator<string> {
  yield `{"bank":${JSON.stringify(bank)},"content":[`;
  let n = 0;
  for await (const item of items) {
    const p = item.provenance;
    const json = { platform: p.platform, group: p.channel, captured_at: p.capturedAt, note: item.note ?? null, metadata: item.metadata };
    const entry = { enabled: true, signals: hmaSignalsOf(item.signals), metadata: { content_id: String(++n), content_uri: p.messageRef, json } };
    yield `${n > 1 ? ',' : ''}\n${JSON.stringify(entry)}`;
  }
  yield '\n]}\n';
}

const STOPNCII_STATUSES = ['Received', 'Active', 'Withdrawn', 'Deleted'];

function stopnciiRecord(value: unknown): ExchangeRecord {
  if (!isObject(value)) throw new Error('each hash record must be an object');
  const { hashValue, signalType, hashStatus = 'Active', caseNumbers = [], lastModtimestamp } = value;
  if (typeof hashStatus !== 'string' || !STOPNCII_STATUSES.includes(hashStatus)) throw new Error(`hashStatus must be one of ${STOPNCII_STATUSES.join(', ')}, got ${JSON.stringify(hashStatus)}`);
  if (!Array.isArray(caseNumbers) || !caseNumbers.every((c) => typeof c === 'string')) throw new Error('caseNumbers must be an array of strings');
  const signal = parsedSignal(fromStopnciiName(signalType), signalType, hashValue);
  return {
    signals: [signal],
    metadata: { stopncii: { hashStatus, caseNumbers, lastModtimestamp: lastModtimestamp ?? null } },
    remove: hashStatus === 'Withdrawn' || hashStatus === 'Deleted',
    modifiedAt: modifiedAtOf(lastModtimestamp),
  };
}

export function readStopncii(source: Readable, page: PageInfo): AsyncGenerator<ReadItem> {
  return jsonRecords(source, 'hashRecords', stopnciiRecord, (path, value) => {
    if (path[0] === 'nextPageToken') page.nextPageToken = typeof value === 'string' && value !== '' ? value : null;
  });
}

/** One record per PDQ or MD5 hash; other types have no StopNCII name and are left out. */
export async function* writeStopncii(items: AsyncIterable<ExportItem>, nextPageToken: () => string | null): AsyncGenerator<string> {
  yield '{"hashRecords":[';
  let n = 0;
  for await (const item of items) {
    const known = isObject(item.metadata.stopncii) ? item.metadata.stopncii : {};
    for (const s of item.signals) {
      const signalType = stopnciiName(s.type);
      if (!signalType) continue;
      const record = {
        hashValue: s.type.format(s.hash),
        signalType,
        hashStatus: typeof known.hashStatus === 'string' ? known.hashStatus : 'Active',
        caseNumbers: Array.isArray(known.caseNumbers) ? known.caseNumbers : [],
        lastModtimestamp: known.lastModtimestamp ?? Date.parse(item.updatedAt),
      };
      yield `${n++ > 0 ? ',' : ''}\n${JSON.stringify(record)}`;
    }
  }
  yield `\n],"nextPageToken":${JSON.stringify(nextPageToken())}}\n`;
}
