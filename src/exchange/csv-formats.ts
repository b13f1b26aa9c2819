/**
 * The line formats, read with csv-parse and written with csv-stringify:
 * python-threatexchange's local file (`<signal_type> <hash>` or a bare hash
 * per line) and its CSV (`signal_type,signal_str,collab,category,tags`), and
 * this service's plain CSV, which carries provenance, metadata and quality.
 */
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { type Info, parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { type ExchangeRecord, type ExportItem, fromTeName, parsedSignal, type ReadItem, reasonOf, teName, typeOfBareHash } from './records.js';

type Row = { record: string[]; info: Info };

/** Rows with their line numbers; a row csv-parse cannot read (a broken quote) is reported and skipped. */
async function* csvRows(source: Readable, delimiter: string): AsyncGenerator<{ line: number; cells: string[] } | { line: number; error: string }> {
  const parser = parse({ delimiter, info: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true, bom: true });
  const skipped: { line: number; error: string }[] = [];
  parser.on('skip', (err: Error & { lines?: number }) => skipped.push({ line: err.lines ?? 0, error: err.message }));
  pipeline(source, parser, () => {});
  for await (const { record, info } of parser as AsyncIterable<Row>) {
    while (skipped.length > 0 && skipped[0].line <= info.lines) yield skipped.shift()!;
    yield { line: info.lines, cells: record };
  }
  yield* skipped.splice(0);
}

/** A row that is not data: a comment or the header. */
function isCommentOrHeader(cells: string[], header: string): boolean {
  return cells[0].startsWith('#') || cells[0].trim() === header;
}

function readRow(line: number, read: () => ExchangeRecord): ReadItem {
  try {
    return { line, record: read() };
  } catch (err) {
    return { line, error: reasonOf(err) };
  }
}

/**
 * One hash per line, so lines are read with node:readline (several times
 * faster than a CSV parser here, and exact about line numbers); each line is
 * `<signal_type> <hash>` or a bare hash, `#` starts a comment.
 */
export async function* readTeFile(source: Readable): AsyncGenerator<ReadItem> {
  let line = 0;
  for await (const text of createInterface({ input: source, crlfDelay: Infinity })) {
    line++;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    yield readTeLine(line, trimmed);
  }
}

function readTeLine(line: number, text: string): ReadItem {
  // Most lines are "<signal_type> <hash>" with one space: no regular expression, no array of cells.
  const space = text.indexOf(' ');
  const type = space > 0 ? fromTeName(text.slice(0, space)) : undefined;
  if (type) {
    try {
      return { line, record: { signals: [parsedSignal(type, undefined, text.slice(space + 1))], metadata: {} } };
    } catch {
      // Read again below, for the reason a person can act on.
    }
  }
  return readRow(line, () => {
    const cells = text.split(/\s+/);
    if (cells.length > 2) throw new Error(`expected "<signal_type> <hash>" or a bare hash, got ${cells.length} fields`);
    const [typeName, hash] = cells.length === 2 ? cells : [undefined, cells[0]];
    const type = typeName === undefined ? typeOfBareHash(hash) : fromTeName(typeName);
    return { signals: [parsedSignal(type, typeName ?? `(a bare hash of ${hash.length} characters)`, hash)], metadata: {} };
  });
}

export async function* writeTeFile(items: AsyncIterable<ExportItem>): AsyncGenerator<string> {
  for await (const item of items) yield item.signals.map((s) => `${teName(s.type)} ${s.type.format(s.hash)}\n`).join('');
}

const TE_CSV_COLUMNS = ['signal_type', 'signal_str', 'collab', 'category', 'tags'];

export async function* readTeCsv(source: Readable): AsyncGenerator<ReadItem> {
  for await (const row of csvRows(source, ',')) {
    if ('error' in row) yield row;
    else if (!isCommentOrHeader(row.cells, 'signal_type')) {
      yield readRow(row.line, () => {
        const [typeName, hash, collab = '', category = '', tags = ''] = row.cells;
        if (row.cells.length > TE_CSV_COLUMNS.length) throw new Error(`expected at most ${TE_CSV_COLUMNS.length} columns (${TE_CSV_COLUMNS.join(',')}), got ${row.cells.length}`);
        const signal = parsedSignal(fromTeName(typeName), typeName, hash);
        return { signals: [signal], metadata: { threatexchange: { collab, category, tags: tags.split(' ').filter(Boolean) } } };
      });
    }
  }
}

function teFields(metadata: Record<string, unknown>): { collab: string; category: string; tags: string } {
  const te = (metadata.threatexchange ?? {}) as { collab?: unknown; category?: unknown; tags?: unknown };
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return { collab: text(te.collab), category: text(te.category), tags: Array.isArray(te.tags) ? te.tags.filter((t) => typeof t === 'string').join(' ') : '' };
}

export async function* writeTeCsv(items: AsyncIterable<ExportItem>): AsyncGenerator<string> {
  for await (const item of items) {
    const { collab, category, tags } = teFields(item.metadata);
    yield stringify(item.signals.map((s) => [teName(s.type), s.type.format(s.hash), collab, category, tags]));
  }
}

/** The plain CSV's columns; rows of one item share its `item` number and follow each other. */
export const PLAIN_CSV_COLUMNS = ['item', 'signal_type', 'hash', 'quality', 'platform', 'group', 'message_url', 'captured_at', 'note', 'metadata'] as const;

function plainRecord(cells: string[]): ExchangeRecord {
  if (cells.length !== PLAIN_CSV_COLUMNS.length) throw new Error(`expected ${PLAIN_CSV_COLUMNS.length} columns (${PLAIN_CSV_COLUMNS.join(',')}), got ${cells.length}`);
  const [, typeName, hash, quality, platform, group, messageUrl, capturedAt, note, metadata] = cells;
  const q = quality === '' ? null : Number(quality);
  if (q !== null && !(Number.isInteger(q) && q >= 0 && q <= 100)) throw new Error(`quality must be empty or an integer from 0 to 100, got ${JSON.stringify(quality)}`);
  const parsedMetadata: unknown = metadata === '' ? {} : JSON.parse(metadata);
  if (typeof parsedMetadata !== 'object' || parsedMetadata === null || Array.isArray(parsedMetadata)) throw new Error('metadata must be a JSON object');
  return {
    signals: [parsedSignal(fromTeName(typeName), typeName, hash, q)],
    provenance: { platform: platform || 'telegram', channel: group || null, messageRef: messageUrl || null, capturedAt: capturedAt || null },
    metadata: parsedMetadata as Record<string, unknown>,
    note: note || null,
  };
}

/** Consecutive rows with the same `item` make one record: the signals of one image together. */
export async function* readPlainCsv(source: Readable): AsyncGenerator<ReadItem> {
  let current: { item: string; line: number; record: ExchangeRecord } | null = null;
  for await (const row of csvRows(source, ',')) {
    if ('error' in row) {
      yield row;
      continue;
    }
    if (isCommentOrHeader(row.cells, 'item')) continue;
    const read = readRow(row.line, () => plainRecord(row.cells));
    if ('error' in read) {
      yield read;
      continue;
    }
    if (current && current.item === row.cells[0]) current.record.signals.push(...read.record.signals);
    else {
      if (current) yield { line: current.line, record: current.record };
      current = { item: row.cells[0], line: row.line, record: read.record };
    }
  }
  if (current) yield { line: current.line, record: current.record };
}

export async function* writePlainCsv(items: AsyncIterable<ExportItem>): AsyncGenerator<string> {
  yield stringify([[...PLAIN_CSV_COLUMNS]]);
  let n = 0;
  for await (const item of items) {
    n++;
    const p = item.provenance;
    const metadata = JSON.stringify(item.metadata);
    yield stringify(
      item.signals.map((s) => [n, teName(s.type), s.type.format(s.hash), s.quality ?? '', p.platform, p.channel ?? '', p.messageRef ?? '', p.capturedAt ?? '', item.note ?? '', metadata]),
    );
  }
}
