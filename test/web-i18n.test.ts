/**
 * The victim page's catalogues: every key in every language, every message
 * valid ICU MessageFormat with the same arguments as English, plural forms
 * as each language has them (Intl.PluralRules), and the language chosen
 * from the browser's list.
 */
import { IntlMessageFormat } from 'intl-messageformat';
import t from 'tap';
import { CATALOGUES, chooseLanguage, LANGUAGES, type MessageKey, Translator } from '../src/web/i18n.js';

interface Element {
  type: number;
  value?: string;
  options?: Record<string, { value: Element[] }>;
  children?: Element[];
}
// Element types of @formatjs/icu-messageformat-parser.
const ARGUMENT_TYPES = new Set([1, 2, 3, 4, 5, 6]);
const PLURAL = 6;

/** Argument names and the plural elements of a parsed message, nested ones included. */
function walk(elements: Element[], found: { args: Set<string>; plurals: Element[] } = { args: new Set(), plurals: [] }) {
  for (const element of elements) {
    if (ARGUMENT_TYPES.has(element.type) && element.value) found.args.add(element.value);
    if (element.type === PLURAL) found.plurals.push(element);
    for (const option of Object.values(element.options ?? {})) walk(option.value, found);
    walk(element.children ?? [], found);
  }
  return found;
}

const english = CATALOGUES.en;
const keys = Object.keys(english) as MessageKey[];

t.test('every catalogue has exactly the English keys, none empty', async (t) => {
  t.ok(keys.length >= 40, `${keys.length} messages`);
  for (const language of LANGUAGES) {
    t.same(Object.keys(CATALOGUES[language]).sort(), [...keys].sort(), `${language}: the same keys`);
    for (const key of keys) t.ok(CATALOGUES[language][key]?.trim(), `${language}.${key} is not empty`);
  }
});

t.test('every message parses, uses the English arguments, and has the plural forms of its language', async (t) => {
  for (const language of LANGUAGES) {
    const categories = new Intl.PluralRules(language).resolvedOptions().pluralCategories as string[];
    for (const key of keys) {
      let ast: Element[];
      try {
        ast = new IntlMessageFormat(CATALOGUES[language][key], language).getAst() as Element[];
      } catch (err) {
        t.fail(`${language}.${key} does not parse: ${(err as Error).message}`);
        continue;
      }
      const { args, plurals } = walk(ast);
      t.same([...args].sort(), [...walk(new IntlMessageFormat(english[key], 'en').getAst() as Element[]).args].sort(), `${language}.${key}: the English arguments`);
      for (const plural of plurals) {
        const forms = Object.keys(plural.options!).filter((form) => !form.startsWith('='));
        t.same(forms.sort(), [...categories].sort(), `${language}.${key} {${plural.value}}: exactly the forms ${categories.join(', ')}`);
      }
    }
  }
});

t.test('plurals and dates come out in each language', async (t) => {
  const hr = new Translator('hr');
  t.equal(hr.t('found', { places: 1 }), 'Pronađena na 1 mjestu.');
  t.equal(hr.t('found', { places: 3 }), 'Pronađena na 3 mjesta.', 'few');
  t.equal(hr.t('found', { places: 21 }), 'Pronađena na 21 mjestu.', '21 is "one" in Croatian');
  t.equal(new Translator('sr-Latn').t('tooManyTries', { minutes: 5 }), 'Previše pokušaja. Sačekajte 5 minuta i pokušajte ponovo.');
  t.equal(new Translator('mk').t('found', { places: 2 }), 'Пронајдена на 2 места.');
  t.equal(new Translator('sq').t('registerButton', { count: 3 }), 'Regjistroni këto 3 foto');
  const en = new Translator('en');
  t.equal(en.t('caseReport', { caseNumber: 'AB12', date: en.date('2026-03-04T10:00:00Z'), matches: 0 }), 'Case AB12, registered March 4, 2026: nothing found so far.');
  t.match(new Translator('sr-Cyrl').date('2026-03-04T10:00:00Z'), /^4\. март 2026/);
  // Chromium has no calendar data for Macedonian: day.month.year then, never "2026 M03 4".
  const supported = Intl.DateTimeFormat.supportedLocalesOf;
  Intl.DateTimeFormat.supportedLocalesOf = () => [];
  t.teardown(() => void (Intl.DateTimeFormat.supportedLocalesOf = supported));
  t.equal(new Translator('mk').date(new Date(2026, 2, 4, 12)), '4.3.2026');
  t.equal(new Translator('bs').list(['Telegram', 'Viber', 'X']), 'Telegram, Viber i X');
});

t.test('the language comes from the browser, English when none of its languages is here', async (t) => {
  const cases: [string[], string][] = [
    [['mk-MK', 'en'], 'mk'],
    [['de-DE', 'hr'], 'hr'],
    [['sr'], 'sr-Cyrl'],
    [['sr-RS'], 'sr-Cyrl'],
    [['sr-Latn-RS'], 'sr-Latn'],
    [['sr-ME'], 'sr-Latn'],
    [['sh'], 'sr-Latn'],
    [['bs-BA'], 'bs'],
    [['sq-XK'], 'sq'],
    [['fr', 'de'], 'en'],
    [[], 'en'],
  ];
  for (const [preferred, expected] of cases) t.equal(chooseLanguage(preferred), expected, `${preferred.join(', ') || '(none)'} -> ${expected}`);
});
