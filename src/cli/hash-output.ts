/**
 * Output rows of `ncii-match hash`. The JSONL fields are a contract other
 * tools depend on: file, pdq, pdqQuality, blockhash, md5, sha256, and with
 * --dihedral pdqDihedral; a failed file gives file and error {code, message}.
 */
import { toHex } from '../hashing/hex.js';
import type { ImageSignals } from '../image/hash-image.js';

export type HashRow =
  | { file: string; pdq: string; pdqQuality: number; blockhash: string; md5: string; sha256: string; pdqDihedral?: string[] }
  | { file: string; error: { code: string; message: string } };

export function signalsRow(file: string, s: ImageSignals, dihedral: boolean): HashRow {
  const row: HashRow = {
    file,
    pdq: toHex(s.pdq!.hash),
    pdqQuality: s.pdq!.quality,
    blockhash: toHex(s.blockhash!),
    md5: toHex(s.md5!),
    sha256: toHex(s.sha256!),
  };
  if (dihedral) row.pdqDihedral = s.pdq!.dihedral!.map(toHex);
  return row;
}

export type OutputFormat = 'jsonl' | 'tsv';

export function header(format: OutputFormat, dihedral: boolean): string | null {
  if (format !== 'tsv') return null;
  return ['file', 'pdq', 'pdqQuality', 'blockhash', 'md5', 'sha256', ...(dihedral ? ['pdqDihedral'] : []), 'error'].join('\t');
}

/** TSV cells cannot hold tabs or newlines: escape them (and the escape character). */
function tsvCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function formatRow(row: HashRow, format: OutputFormat, dihedral: boolean): string {
  if (format === 'jsonl') return JSON.stringify(row);
  if ('error' in row) {
    const empty = dihedral ? 6 : 5;
    return [tsvCell(row.file), ...Array(empty).fill(''), tsvCell(`${row.error.code}: ${row.error.message}`)].join('\t');
  }
  const cells = [tsvCell(row.file), row.pdq, String(row.pdqQuality), row.blockhash, row.md5, row.sha256];
  if (dihedral) cells.push(row.pdqDihedral!.join(','));
  cells.push('');
  return cells.join('\t');
}
