/**
 * Real photographs for benchmarks, taken from Debian packages that ship them
 * (the only image source these machines reach). Packages are downloaded and
 * unpacked once into the git-ignored corpus/ folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const CORPUS = join(process.cwd(), 'corpus');

export interface DebianPhoto {
  pkg: string;
  /** Path inside the package. */
  file: string;
}

/** Local path of the photo, fetching its package with apt-get the first time. */
export function ensureDebianPhoto({ pkg, file }: DebianPhoto): string {
  const extracted = join(CORPUS, 'extracted', pkg);
  const path = join(extracted, file);
  if (existsSync(path)) return path;
  const debs = join(CORPUS, 'debs');
  mkdirSync(debs, { recursive: true });
  let deb = readdirSync(debs).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  if (!deb) {
    process.stderr.write(`fetching Debian package ${pkg} for benchmark photos\n`);
    try {
      execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: 'inherit' });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: 'inherit' });
    }
    deb = readdirSync(debs).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'))!;
  }
  mkdirSync(extracted, { recursive: true });
  execFileSync('dpkg-deb', ['-x', join(debs, deb), extracted]);
  if (!existsSync(path)) throw new Error(`${file} is not in ${deb}`);
  return path;
}

export function debianPackageVersion(pkg: string): string {
  const deb = readdirSync(join(CORPUS, 'debs')).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  return deb ? execFileSync('dpkg-deb', ['-f', join(CORPUS, 'debs', deb), 'Version'], { encoding: 'utf8' }).trim() : 'unknown';
}
