/**
 * The victim page in headless Chromium: Debian's chromium (never a downloaded
 * browser) driven by playwright-core, against the real app listening on a
 * free port, with the page built by scripts/build-web.ts into a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export interface WebHarness {
  app: FastifyInstance;
  origin: string;
  browser: Browser;
  /** Every line the app logged (at debug level), to check what is never in them. */
  logs: string[];
  close(): Promise<void>;
}

/** A built page, an app serving it on 127.0.0.1 and a browser; `env` adds settings. */
export async function startWebHarness(env: Record<string, string> = {}): Promise<WebHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-web-'));
  const webDir = await buildWeb(join(dir, 'public'));
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  // Load shedding off: a machine busy with other work must not turn the page's requests into 503s.
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: join(dir, 'data'), WEB_DIR: webDir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', LOG_LEVEL: 'debug', MAX_EVENT_LOOP_DELAY_MS: '600000', ...env }),
    logStream,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  return {
    app,
    origin: address,
    browser,
    logs,
    async close() {
      await browser.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
