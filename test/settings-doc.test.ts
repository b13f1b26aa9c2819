/**
 * docs/settings.md documents every setting of src/config.ts with its default,
 * and nothing that is not a setting: a setting added, renamed, removed or
 * given a new default without its line in the docs fails here.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { describeSettings } from '../src/config.js';

/** The rows of the settings table: `NAME` | `default` | meaning. */
function documentedSettings(markdown: string): Map<string, { default: string; meaning: string }> {
  const rows = new Map<string, { default: string; meaning: string }>();
  for (const line of markdown.split('\n')) {
    const row = /^\| `([A-Z][A-Z0-9_]*)` \| `([^`]*)` \| (.+) \|$/.exec(line);
    if (row) rows.set(row[1], { default: row[2], meaning: row[3] });
  }
  return rows;
}

t.test('docs/settings.md and src/config.ts list the same settings, with the same defaults', async (t) => {
  const documented = documentedSettings(readFileSync('docs/settings.md', 'utf8'));
  const settings = describeSettings();
  t.ok(settings.length > 10, `${settings.length} settings`);
  t.same([...documented.keys()].sort(), settings.map((s) => s.name).sort(), 'the same names');
  for (const setting of settings) {
    const doc = documented.get(setting.name);
    if (!doc) continue;
    // An empty default is written `""`: empty backticks do not show.
    t.equal(doc.default, setting.default === '' ? '""' : String(setting.default), `${setting.name}: the default`);
    t.ok(doc.meaning.length > 20, `${setting.name}: says what it does`);
  }
});

t.test('every setting has a description for `serve --help`', async (t) => {
  for (const setting of describeSettings()) t.ok(setting.description.length > 10, setting.name);
});
