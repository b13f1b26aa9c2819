/**
 * The web plugin without a browser: a server whose page is not built still
 * serves the API and says so on /; the help resources come from the
 * operator's file, which is checked when the app starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_HELP_RESOURCES, loadHelpResources } from '../src/services/help-resources.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-web-plugin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const start = (env: Record<string, string>) => buildApp({ config: loadConfig({ DATA_DIR: join(dir, 'data'), WEB_DIR: join(dir, 'not-built'), ...env }), logger: false, loadIndexes: false });

t.test('a page not built: / answers 503 WEB_NOT_BUILT, the API and the help resources are served', async (t) => {
  const app = await start({});
  t.teardown(() => app.close());
  const page = await app.inject({ method: 'GET', url: '/' });
  t.equal(page.statusCode, 503);
  t.equal(page.json().error.code, 'WEB_NOT_BUILT');
  t.match(page.json().error.message, /npm run build/);
  t.equal((await app.inject({ method: 'GET', url: '/assets/app.js' })).statusCode, 404, 'no assets');
  const help = await app.inject({ method: 'GET', url: '/help-resources.json' });
  t.equal(help.statusCode, 200);
  t.same(help.json(), DEFAULT_HELP_RESOURCES, 'the built-in list without a file');
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the API runs on');
});

t.test("the operator's help resources are served; a broken file stops the start, naming what is wrong", async (t) => {
  const good = {
    quickExitUrl: 'https://example.org/news',
    international: [],
    countries: { MK: { name: { en: 'North Macedonia', mk: 'Северна Македонија' }, resources: [{ kind: 'legal', name: { en: 'Legal aid line' }, phone: '+389 2 000 000' }] } },
  };
  const file = join(dir, 'help.json');
  writeFileSync(file, JSON.stringify(good));
  const app = await start({ HELP_RESOURCES_FILE: file });
  t.teardown(() => app.close());
  t.same((await app.inject({ method: 'GET', url: '/help-resources.json' })).json(), good);

  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"international": [');
  t.throws(() => loadHelpResources(broken), /HELP_RESOURCES_FILE .*broken\.json cannot be read as JSON/);
  await t.rejects(start({ HELP_RESOURCES_FILE: broken }), /cannot be read as JSON/, 'the app does not start');
  writeFileSync(broken, JSON.stringify({ ...good, countries: { MK: { ...good.countries.MK, resources: [{ kind: 'legal', name: { en: 'x' }, url: 'http://insecure.example' }] } } }));
  t.throws(() => loadHelpResources(broken), /\/countries\/MK\/resources\/0\/url/, 'names the field at fault');
  writeFileSync(broken, JSON.stringify({ international: [], countries: {}, extra: true }));
  t.throws(() => loadHelpResources(broken), /HELP_RESOURCES_FILE/);
  t.throws(() => loadHelpResources(join(dir, 'missing.json')), /cannot be read/);
});
