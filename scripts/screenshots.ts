/**
 * Screenshots of the real page for docs/web.md and the README: built,
 * served by the app and driven in Debian's Chromium like the browser tests,
 * after checking a photo that a bank holds, in two languages at phone
 * (360 x 740) and desktop (1280 x 900) sizes, into docs/screenshots/.
 * `npm run screenshots`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { multipart } from '../test/helpers/multipart.js';
import { startWebHarness } from '../test/helpers/browser.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'docs/screenshots');
const PHOTO = readFileSync(join(ROOT, 'fixtures/pdq-reference/q0122.jpg'));
const LANGUAGES = [
  ['en', 'en-GB'],
  ['mk', 'mk-MK'],
] as const;
const VIEWPORTS = { phone: { width: 360, height: 740 }, desktop: { width: 1280, height: 900 } } as const;

const harness = await startWebHarness({ LOG_LEVEL: 'silent' });
try {
  const { app, origin, browser } = harness;
  const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'screenshots', role: 'takedown' }).secret}` };
  const bank = (await app.inject({ method: 'POST', url: '/v1/banks', headers: takedown, payload: { name: 'example' } })).json().id;
  const form = multipart([
    { name: 'image', filename: 'photo.jpg', bytes: PHOTO, contentType: 'image/jpeg' },
    { name: 'group', value: 'Example group' },
    { name: 'capturedAt', value: '2026-03-04T10:00:00Z' },
  ]);
  await app.inject({ method: 'POST', url: `/v1/banks/${bank}/content`, payload: form.payload, headers: { ...form.headers, ...takedown } });
  mkdirSync(OUT, { recursive: true });
  for (const [language, locale] of LANGUAGES) {
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      const context = await browser.newContext({ locale, viewport, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.setInputFiles('#photos', [{ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: PHOTO }]);
      await page.waitForSelector('#register:not([hidden])', { timeout: 120_000 });
      await page.evaluate(() => window.scrollTo(0, 0));
      const file = join(OUT, `${language}-${size}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`wrote ${file}`);
      await context.close();
    }
  }
} finally {
  await harness.close();
}
