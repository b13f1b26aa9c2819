/**
 * docs/api.md's table of routes lists exactly the routes the app serves: a
 * route added without its row, or a row left behind by a route that is gone,
 * fails here (as a route missing from test/api-roles.test.ts does there).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';

/** "METHOD /path" of every route in the first column of the `## Routes` table; `{id}` as the app's `:id`. */
function documentedRoutes(markdown: string): string[] {
  const start = markdown.indexOf('\n## Routes');
  const table = markdown.slice(start, markdown.indexOf('\n## ', start + 1));
  const routes: string[] = [];
  for (const line of table.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split(' | ')[0];
    let methods: string[] = [];
    for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
      const [method, path] = token.split(' ');
      methods.push(method);
      if (path === undefined) continue;
      const url = path.split('?')[0].replace(/\{(\w+)\}/g, ':$1');
      for (const m of methods) routes.push(`${m} ${url}`);
      methods = [];
    }
  }
  return routes;
}

t.test("docs/api.md lists exactly the app's routes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-api-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir }), logger: false, loadIndexes: false });
  t.teardown(() => app.close());
  await app.ready();
  // HEAD mirrors GET; under /docs/ are Swagger UI's own files and the description, under /assets/ the web
  // pages' files (served once they are built), which the page names.
  const served = app.routeTable
    .filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs/') && !r.url.startsWith('/assets/'))
    .map((r) => `${r.method} ${r.url}`);
  const documented = documentedRoutes(readFileSync('docs/api.md', 'utf8'));
  t.ok(documented.length > 15, `${documented.length} routes documented`);
  t.same([...new Set(documented)].sort(), [...new Set(served)].sort());
});
