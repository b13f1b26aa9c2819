/** Reading the reference fixtures (images + expected hashes) that the tests check against. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Raster } from '../../src/hashing/signal-type.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
export const PDQ_DIR = `${FIXTURES}pdq-reference/`;
export const BLOCKHASH_DIR = `${FIXTURES}blockhash-reference/`;

export function readTsv(path: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const columns = header.split('\t');
  return lines.map((line) => {
    const cells = line.split('\t');
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
  });
}

/** The C++ reference's own output for each image (the exact targets). */
export const pdqExpected = () => readTsv(`${PDQ_DIR}EXPECTED.tsv`).filter((r) => r.source === 'cpp-rebuilt');
export const pdqDihedralExpected = () => readTsv(`${PDQ_DIR}DIHEDRAL.tsv`);
export const blockhashExpected = () => readTsv(`${BLOCKHASH_DIR}EXPECTED.tsv`);

/** Pixels exactly as stored in a lossless file, without any conversion. */
export async function rawPixels(path: string): Promise<Raster> {
  const { data, info } = await sharp(path, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}
