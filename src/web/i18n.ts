/**
 * The page's languages: one ICU MessageFormat catalogue each (messages/*.json,
 * formatted by intl-messageformat with the language's own plural rules and
 * dates), chosen from the browser's languages and switchable on the page.
 * Pure: the catalogue test runs it in Node.
 */
import { IntlMessageFormat } from 'intl-messageformat';
import bs from './messages/bs.json' with { type: 'json' };
import en from './messages/en.json' with { type: 'json' };
import hr from './messages/hr.json' with { type: 'json' };
import mk from './messages/mk.json' with { type: 'json' };
import sq from './messages/sq.json' with { type: 'json' };
import srCyrl from './messages/sr-Cyrl.json' with { type: 'json' };
import srLatn from './messages/sr-Latn.json' with { type: 'json' };

export const LANGUAGES = ['en', 'mk', 'sr-Latn', 'sr-Cyrl', 'hr', 'bs', 'sq'] as const;
export type Language = (typeof LANGUAGES)[number];
export type MessageKey = keyof typeof en;

/** Each language by its own name, as the switch shows it. */
export const LANGUAGE_NAMES: Record<Language, string> = {
  en: 'English',
  mk: 'Македонски',
  'sr-Latn': 'Srpski (latinica)',
  'sr-Cyrl': 'Српски (ћирилица)',
  hr: 'Hrvatski',
  bs: 'Bosanski',
  sq: 'Shqip',
};

export const CATALOGUES: Record<Language, Record<MessageKey, string>> = { en, mk, 'sr-Latn': srLatn, 'sr-Cyrl': srCyrl, hr, bs, sq };

/**
 * The first of the browser's languages the page has. Serbian without a
 * script is Cyrillic in Serbia and Bosnia (the official script) and Latin
 * elsewhere (Montenegro, or no region); Serbo-Croatian (sh) is read in Latin.
 */
export function chooseLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const [language, ...rest] = tag.toLowerCase().split('-');
    if (language === 'sr') {
      if (rest.includes('latn')) return 'sr-Latn';
      return rest.length === 0 || rest.some((part) => ['cyrl', 'rs', 'ba'].includes(part)) ? 'sr-Cyrl' : 'sr-Latn';
    }
    if (language === 'sh') return 'sr-Latn';
    const found = LANGUAGES.find((l) => l === language);
    if (found) return found;
  }
  return 'en';
}

export type MessageValues = Record<string, string | number>;

export class Translator {
  private readonly formats = new Map<MessageKey, IntlMessageFormat>();

  constructor(readonly language: Language) {}

  t(key: MessageKey, values: MessageValues = {}): string {
    let format = this.formats.get(key);
    if (!format) {
      format = new IntlMessageFormat(CATALOGUES[this.language][key], this.language);
      this.formats.set(key, format);
    }
    return String(format.format(values));
  }

  /**
   * A date as the language writes it ("4. mart 2026."); where the browser has
   * no calendar data for the language (Chromium has none for Macedonian or
   * Albanian, and prints "2026 M03 4"), as day.month.year, which the whole
   * region reads.
   */
  date(value: Date | string): string {
    const date = new Date(value);
    if (Intl.DateTimeFormat.supportedLocalesOf([this.language]).length > 0) return new Intl.DateTimeFormat(this.language, { dateStyle: 'long' }).format(date);
    return `${date.getDate()}.${date.getMonth() + 1}.${date.getFullYear()}`;
  }

  /** A list in the language's own words ("a, b and c"). */
  list(items: readonly string[]): string {
    return new Intl.ListFormat(this.language, { type: 'conjunction' }).format(items);
  }
}
