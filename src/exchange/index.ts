/** Reading and writing hash lists in each exchange format (docs/exchange.md). */
import type { Readable } from 'node:stream';
import { readPlainCsv, readTeCsv, readTeFile, writePlainCsv, writeTeCsv, writeTeFile } from './csv-formats.js';
import { type PageInfo, readHmaJson, readStopncii, writeHmaJson, writeStopncii } from './json-formats.js';
import type { ExchangeFormat, ExportItem, ReadItem } from './records.js';

export * from './records.js';
export type { PageInfo } from './json-formats.js';

/** The records of a file in `format`, one at a time; `page` learns a StopNCII page's next-page token. */
export function readRecords(format: ExchangeFormat, source: Readable, page: PageInfo = {}): AsyncGenerator<ReadItem> {
  switch (format) {
    case 'hma-json':
      return readHmaJson(source);
    case 'te-file':
      return readTeFile(source);
    case 'te-csv':
      return readTeCsv(source);
    case 'stopncii':
      return readStopncii(source, page);
    case 'csv':
      return readPlainCsv(source);
  }
}

export interface WriteContext {
  bank: { name: string; description: string };
  /** Asked once every item is written (StopNCII pages end with it). */
  nextPageToken: () => string | null;
}

/** The text of a file in `format`, a piece at a time. */
export function writeRecords(format: ExchangeFormat, items: AsyncIterable<ExportItem>, context: WriteContext): AsyncGenerator<string> {
  switch (format) {
    case 'hma-json':
      return writeHmaJson(items, context.bank);
    case 'te-file':
      return writeTeFile(items);
    case 'te-csv':
      return writeTeCsv(items);
    case 'stopncii':
      return writeStopncii(items, context.nextPageToken);
    case 'csv':
      return writePlainCsv(items);
  }
}

/** The media type an export is served as. */
export function contentTypeOf(format: ExchangeFormat): string {
  return format === 'hma-json' || format === 'stopncii' ? 'application/json; charset=utf-8' : format === 'te-file' ? 'text/plain; charset=utf-8' : 'text/csv; charset=utf-8';
}
