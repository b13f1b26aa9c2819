/**
 * The quality benchmark's corpus: distinct real photographs taken from Debian
 * packages by scripts/build-quality-corpus.ts, listed in
 * corpus/quality/manifest.json (git-ignored, like the images). Also reads Qt
 * resource bundles (.rcc), where gcompris-qt-data keeps its photographs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

export const QUALITY_DIR = join(process.cwd(), 'corpus', 'quality');
export const MANIFEST_PATH = join(QUALITY_DIR, 'manifest.json');

export interface QualityPhoto {
  /** Stable id: file stem plus a short hash of package and file. */
  id: string;
  package: string;
  version: string;
  /** Path inside the package; `bundle.rcc!/member` for a file inside a Qt resource bundle. */
  file: string;
  width: number;
  height: number;
  /** Local copy of the original bytes, relative to the repository root. */
  path: string;
  /** Set where people are in the photo (tagged by hand when the list was curated). */
  people?: boolean;
}

export interface QualityManifest {
  description: string;
  /** PDQ distance at or under which two candidates count as the same photo. */
  duplicateDistance: number;
  photos: QualityPhoto[];
  /**
   * Real photos whose whole-image PDQ quality is under 50 (dim or
   * low-contrast), kept apart from `photos`: bench/quality asks them as dark
   * originals only.
   */
  dim?: QualityPhoto[];
}

export function loadQualityManifest(): QualityManifest {
  if (!existsSync(MANIFEST_PATH)) {
    throw new Error(`${MANIFEST_PATH} is missing: build the corpus first with npm run corpus:quality`);
  }
  return JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as QualityManifest;
}

export function readQualityPhoto(photo: QualityPhoto): Buffer {
  return readFileSync(join(process.cwd(), photo.path));
}

export interface RccEntry {
  /** Path inside the bundle, with a leading slash. */
  path: string;
  data: Buffer;
}

/**
 * Files of a Qt resource bundle (format versions 1 to 3): a header, a tree of
 * nodes (name offset, flags, then children or data offset), a names table
 * (UTF-16BE) and a data table (u32 length + bytes, zlib with a u32 size
 * prefix when flagged). zstd-compressed members are not supported (none here).
 */
export function readRcc(buf: Buffer): RccEntry[] {
  if (buf.toString('latin1', 0, 4) !== 'qres') throw new Error('not a Qt resource bundle');
  const version = buf.readUInt32BE(4);
  const tree = buf.readUInt32BE(8);
  const data = buf.readUInt32BE(12);
  const names = buf.readUInt32BE(16);
  const nodeSize = version >= 2 ? 22 : 14;
  const nameAt = (offset: number) => {
    const length = buf.readUInt16BE(names + offset);
    let name = '';
    for (let i = 0; i < length; i++) name += String.fromCharCode(buf.readUInt16BE(names + offset + 6 + 2 * i));
    return name;
  };
  const out: RccEntry[] = [];
  const visit = (node: number, prefix: string) => {
    const base = tree + node * nodeSize;
    const flags = buf.readUInt16BE(base + 4);
    const path = node === 0 ? '' : `${prefix}/${nameAt(buf.readUInt32BE(base))}`;
    if (flags & 2) {
      const count = buf.readUInt32BE(base + 6);
      const first = buf.readUInt32BE(base + 10);
      for (let i = 0; i < count; i++) visit(first + i, path);
      return;
    }
    if (flags & 4) throw new Error(`${path}: zstd-compressed resource`);
    const offset = data + buf.readUInt32BE(base + 10);
    const bytes = buf.subarray(offset + 4, offset + 4 + buf.readUInt32BE(offset));
    out.push({ path, data: Buffer.from(flags & 1 ? inflateSync(bytes.subarray(4)) : bytes) });
  };
  visit(0, '');
  return out;
}
