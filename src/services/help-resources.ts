/**
 * The help the victim page offers after a check: where to report, legal aid,
 * helplines, per country. Operators know their region's services; the file
 * (HELP_RESOURCES_FILE) is theirs to write and is checked when the service
 * starts, so a typo stops it with the line at fault instead of showing a
 * broken list to someone who needs it. Without a file, only services that
 * act everywhere and the police numbers of the region are offered.
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from 'typebox';
import Value from 'typebox/value';

/** Text in the page's languages; `en` is shown where her language has none. */
const Localized = Type.Intersect([Type.Object({ en: Type.String({ minLength: 1 }) }), Type.Record(Type.String({ pattern: '^[a-z]{2}(-[A-Za-z]{4})?$' }), Type.String({ minLength: 1 }))]);

const HelpResource = Type.Object(
  {
    kind: Type.Union([Type.Literal('report'), Type.Literal('legal'), Type.Literal('helpline'), Type.Literal('police')]),
    name: Localized,
    url: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    phone: Type.Optional(Type.String({ pattern: '^[0-9+ ()-]{2,30}$' })),
    email: Type.Optional(Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$' })),
    description: Type.Optional(Localized),
  },
  { additionalProperties: false },
);

export const HelpResources = Type.Object(
  {
    /** Where the quick exit goes; a page anyone might have open. */
    quickExitUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    international: Type.Array(HelpResource),
    countries: Type.Record(Type.String({ pattern: '^[A-Z]{2}$' }), Type.Object({ name: Localized, resources: Type.Array(HelpResource) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type HelpResources = Static<typeof HelpResources>;

const police = (phone: string) => ({
  kind: 'police' as const,
  name: { en: 'Police', mk: 'Полиција', 'sr-Latn': 'Policija', 'sr-Cyrl': 'Полиција', hr: 'Policija', bs: 'Policija', sq: 'Policia' },
  phone,
});

/** Only what is true everywhere; operators add their region's helplines and legal aid (docs/web.md). */
export const DEFAULT_HELP_RESOURCES: HelpResources = {
  international: [
    {
      kind: 'report',
      name: { en: 'StopNCII.org' },
      url: 'https://stopncii.org',
      description: {
        en: 'Hashes your photos on your device and shares the hashes with participating platforms, so they can block copies.',
        mk: 'Ги хашира вашите фотографии на вашиот уред и ги споделува хаш-кодовите со платформите што учествуваат, за да можат да ги блокираат копиите.',
        'sr-Latn': 'Računa heš kodove vaših fotografija na vašem uređaju i deli ih sa platformama koje učestvuju, da bi mogle da blokiraju kopije.',
        'sr-Cyrl': 'Рачуна хеш кодове ваших фотографија на вашем уређају и дели их са платформама које учествују, да би могле да блокирају копије.',
        hr: 'Izračunava sažetke vaših fotografija na vašem uređaju i dijeli ih s platformama koje sudjeluju, kako bi mogle blokirati kopije.',
        bs: 'Izračunava heš kodove vaših fotografija na vašem uređaju i dijeli ih s platformama koje učestvuju, kako bi mogle blokirati kopije.',
        sq: 'Llogarit kodet hash të fotove tuaja në pajisjen tuaj dhe i ndan me platformat pjesëmarrëse, që të mund të bllokojnë kopjet.',
      },
    },
    {
      kind: 'report',
      name: {
        en: 'Telegram: report the group in the app, or write to abuse@telegram.org',
        mk: 'Telegram: пријавете ја групата во апликацијата или пишете на abuse@telegram.org',
        'sr-Latn': 'Telegram: prijavite grupu u aplikaciji ili pišite na abuse@telegram.org',
        'sr-Cyrl': 'Telegram: пријавите групу у апликацији или пишите на abuse@telegram.org',
        hr: 'Telegram: prijavite grupu u aplikaciji ili pišite na abuse@telegram.org',
        bs: 'Telegram: prijavite grupu u aplikaciji ili pišite na abuse@telegram.org',
        sq: 'Telegram: raportoni grupin në aplikacion ose shkruani në abuse@telegram.org',
      },
      email: 'abuse@telegram.org',
    },
    {
      kind: 'report',
      name: {
        en: 'Take It Down (photos taken before you were 18)',
        mk: 'Take It Down (фотографии направени пред да наполните 18 години)',
        'sr-Latn': 'Take It Down (fotografije nastale pre vaše 18. godine)',
        'sr-Cyrl': 'Take It Down (фотографије настале пре ваше 18. године)',
        hr: 'Take It Down (fotografije nastale prije vaše 18. godine)',
        bs: 'Take It Down (fotografije nastale prije vaše 18. godine)',
        sq: 'Take It Down (foto të bëra para se të mbushnit 18 vjeç)',
      },
      url: 'https://takeitdown.ncmec.org',
    },
  ],
  countries: {
    AL: { name: { en: 'Albania', sq: 'Shqipëria' }, resources: [police('129')] },
    BA: { name: { en: 'Bosnia and Herzegovina', bs: 'Bosna i Hercegovina', hr: 'Bosna i Hercegovina', 'sr-Latn': 'Bosna i Hercegovina', 'sr-Cyrl': 'Босна и Херцеговина' }, resources: [police('122')] },
    HR: { name: { en: 'Croatia', hr: 'Hrvatska', bs: 'Hrvatska', 'sr-Latn': 'Hrvatska', 'sr-Cyrl': 'Хрватска' }, resources: [police('192')] },
    ME: { name: { en: 'Montenegro', 'sr-Latn': 'Crna Gora', 'sr-Cyrl': 'Црна Гора', hr: 'Crna Gora', bs: 'Crna Gora' }, resources: [police('122')] },
    MK: { name: { en: 'North Macedonia', mk: 'Северна Македонија', sq: 'Maqedonia e Veriut' }, resources: [police('192')] },
    RS: { name: { en: 'Serbia', 'sr-Latn': 'Srbija', 'sr-Cyrl': 'Србија', hr: 'Srbija', bs: 'Srbija' }, resources: [police('192')] },
    XK: { name: { en: 'Kosovo', sq: 'Kosova', 'sr-Latn': 'Kosovo', 'sr-Cyrl': 'Косово' }, resources: [police('192')] },
  },
};

/** The operator's file, checked; the built-in list when `path` is empty. */
export function loadHelpResources(path: string): HelpResources {
  if (path === '') return DEFAULT_HELP_RESOURCES;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`HELP_RESOURCES_FILE ${path} cannot be read as JSON: ${(err as Error).message}`, { cause: err });
  }
  const problem = Value.Errors(HelpResources, parsed)[0];
  if (problem) throw new Error(`HELP_RESOURCES_FILE ${path}: ${problem.instancePath || '(top)'} ${problem.message} (see docs/web.md for the format)`);
  return parsed as HelpResources;
}
