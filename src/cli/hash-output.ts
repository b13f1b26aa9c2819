/**
 * Output rows of `ncii-match hash`. The JSONL fields are a contract other
 * tools depend on: file, pdq, pdqQuality, blockhash, md5, sha256, and with
 * --dihedral pdqDihedral; a failed file gives file and error {code, message}.
 */
import { type ImageHashesText, type ImageSignals, imageHashesText, WHOLE_IMAGE_SIGNALS } from '../robust/image-signals.js';

export type HashRow = ({ file: string } & ImageHashesText) | { file: string; error: { code: string; message: string } };

export function signalsRow(file: string, s: ImageSignals): HashRow {
  return { file, ...imageHashesText(s) };
}

export type OutputFormat = 'jsonl' | 'tsv';

/** The hash columns: each whole-image type, PDQ's quality after it, and with --dihedral its rotations. */
function hashColumns(dihedral: boolean): string[] {
  return [...WHOLE_IMAGE_SIGNALS.flatMap((name) => (name === 'pdq' ? ['pdq', 'pdqQuality'] : [name])), ...(dihedral ? ['pdqDihedral'] : [])];
}

export function header(format: OutputFormat, dihedral: boolean): string | null {
  if (format !== 'tsv') return null;
  return ['file', ...hashColumns(dihedral), 'error'].join('\t');
}

/** TSV cells cannot hold tabs or newlines: escape them (and the escape character). */
function tsvCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function formatRow(row: HashRow, format: OutputFormat, dihedral: boolean): string {
  if (format === 'jsonl') return JSON.stringify(row);
  const columns = hashColumns(dihedral);
  if ('error' in row) return [tsvCell(row.file), ...columns.map(() => ''), tsvCell(`${row.error.code}: ${row.error.message}`)].join('\t');
  const cell = (column: string) => {
    const value = (row as Record<string, unknown>)[column];
    return Array.isArray(value) ? value.join(',') : String(value);
  };
  return [tsvCell(row.file), ...columns.map(cell), ''].join('\t');
}
