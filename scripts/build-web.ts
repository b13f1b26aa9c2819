/**
 * Builds the web pages into dist/public (or `--out DIR`): each entry of
 * WEB_ENTRIES bundled by esbuild into assets/NAME.js (one classic script, no
 * module loading, nothing fetched from elsewhere), and src/web/static copied
 * as it is (HTML, CSS). `npm run build` and `prepare` run it; the browser
 * tests call buildWeb into a directory of their own.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The scripts a page loads, by the name they are served as (/assets/NAME.js). */
export const WEB_ENTRIES: Record<string, string> = {
  app: 'src/web/main.ts',
  worker: 'src/web/worker.ts',
  dashboard: 'src/web/dashboard/main.ts',
};

export async function buildWeb(outdir = join(ROOT, 'dist/public')): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(join(outdir, 'assets'), { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: WEB_ENTRIES,
    outdir: join(outdir, 'assets'),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    // Browsers with OffscreenCanvas and DecompressionStream in workers (docs/web.md).
    target: ['chrome94', 'firefox113', 'safari16.4'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  cpSync(join(ROOT, 'src/web/static'), outdir, { recursive: true });
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--out');
  const out = await buildWeb(at > 0 ? process.argv[at + 1] : undefined);
  console.log(`web pages built into ${out}`);
}
