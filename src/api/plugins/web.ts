/**
 * The web pages (docs/web.md): the victim page at `/`, its scripts and styles
 * under /assets/, built by scripts/build-web.ts into WEB_DIR, and the help
 * the page offers per country. Every page answer carries WEB_CSP: scripts
 * and workers from this origin only, no inline script, requests to this
 * origin only, so the page can send a photo nowhere else and a third party
 * learns nothing of who opened it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../../config.js';
import { type HelpResources, loadHelpResources } from '../../services/help-resources.js';
import { ApiError } from '../errors.js';

/**
 * 'wasm-unsafe-eval' lets the hashing core compile its WebAssembly (PDQ,
 * blockhash, the digests); it allows no JavaScript eval and no inline script.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** No camera, microphone or location: the page reads only the files she picks. */
const PERMISSIONS_POLICY = 'camera=(), microphone=(), geolocation=(), interest-cohort=()';

/** Where `npm run build` writes the pages: dist/public of the package (this file is three levels down in src/ and in dist/). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../dist/public/', import.meta.url));

function pageHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', WEB_CSP);
  reply.header('permissions-policy', PERMISSIONS_POLICY);
}

/** Registers GET /, /dashboard, /assets/* and /help-resources.json. A page not built answers 503 WEB_NOT_BUILT, the API runs on. */
export async function webPages(app: FastifyInstance, { config }: { config: Config }) {
  const root = config.WEB_DIR || DEFAULT_WEB_DIR;
  const help: HelpResources = loadHelpResources(config.HELP_RESOURCES_FILE);
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      cacheControl: false,
      etag: true,
      lastModified: false,
      index: false,
      dotfiles: 'deny',
      schemaHide: true,
      setHeaders: pageHeaders,
    });
  }
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!built) throw new ApiError(503, 'WEB_NOT_BUILT', 'The web page is not built on this server; run npm run build (see docs/web.md).');
    pageHeaders(reply);
    return reply.sendFile('index.html', root);
  });
  // The takedown dashboard (docs/dashboard.md), under the same CSP: its key lives in the tab's session storage, never in a cookie.
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => {
    if (!built) throw new ApiError(503, 'WEB_NOT_BUILT', 'The web pages are not built on this server; run npm run build (see docs/web.md).');
    pageHeaders(reply);
    return reply.sendFile('dashboard.html', root);
  });
  app.get('/help-resources.json', { schema: { hide: true } }, async () => help);
}
