/** The summary a person reads: one page, printable to PDF, in the case's language (English otherwise). */
import type { AuditExtract, EvidenceDocument } from './document.js';

/** A match's takedown status (the store's MATCH_STATUSES; `test/evidence.test.ts` holds the two together). */
type MatchStatus = 'new' | 'reported' | 'removed' | 'dismissed';

/** What a summary says, in one language. `made` is a phrase of its own, as word order differs between languages. */
interface SummaryText {
  title: string;
  intro: string;
  cases: string;
  registered: string;
  made: (at: string, by: string) => string;
  count: string;
  columns: readonly [string, string, string, string, string, string, string, string];
  whole: string;
  region: string;
  statuses: Record<MatchStatus, string>;
  verify: string;
  chain: string;
  head: string;
}

/**
 * The victim page's languages (src/web/i18n.ts; `test/evidence.test.ts`
 * holds the two lists together). A summary is read by a victim and by a
 * prosecutor's clerk: plain, formal words.
 */
const TEXT = {
  en: {
    title: 'Evidence package',
    intro: 'Copies of a registered photo were found in captured content. This page lists where and when. No image is part of this package.',
    cases: 'Case',
    registered: 'registered',
    made: (at, by) => `Package made: ${at} by ${by}`,
    count: 'Matches',
    columns: ['Match', 'Platform', 'Group', 'Message link', 'Captured', 'Found', 'Match kind', 'Status'],
    whole: 'whole image',
    region: 'part of the image',
    statuses: { new: 'new', reported: 'reported', removed: 'removed', dismissed: 'dismissed' },
    verify:
      'This package is signed. To check that nothing in it was changed, follow docs/evidence.md: the signature over MANIFEST.sha256 is checked with the public key whose fingerprint is',
    chain: 'Audit log entries included',
    head: 'newest log entry when made',
  },
  mk: {
    title: 'Пакет со докази',
    intro: 'Копии од пријавена фотографија се пронајдени во собраната содржина. Оваа страница наведува каде и кога. Пакетот не содржи ниедна слика.',
    cases: 'Случај',
    registered: 'пријавен на',
    made: (at, by) => `Пакетот е изработен: ${at}, на барање на: ${by}`,
    count: 'Совпаѓања',
    columns: ['Совпаѓање', 'Платформа', 'Група', 'Линк до пораката', 'Собрано', 'Пронајдено', 'Вид на совпаѓање', 'Статус'],
    whole: 'целата слика',
    region: 'дел од сликата',
    statuses: { new: 'ново', reported: 'пријавено', removed: 'отстрането', dismissed: 'отфрлено' },
    verify:
      'Овој пакет е дигитално потпишан. За да проверите дека ништо во него не е изменето, следете го упатството во docs/evidence.md: потписот врз MANIFEST.sha256 се проверува со јавниот клуч чиј отпечаток е',
    chain: 'Вклучени записи од ревизорскиот дневник',
    head: 'најновиот запис во дневникот во моментот на изработката',
  },
  'sr-Latn': {
    title: 'Paket dokaza',
    intro: 'Kopije prijavljene fotografije pronađene su u prikupljenom sadržaju. Ova stranica navodi gde i kada. Paket ne sadrži nijednu sliku.',
    cases: 'Slučaj',
    registered: 'prijavljen',
    made: (at, by) => `Paket sačinjen: ${at}, na zahtev: ${by}`,
    count: 'Podudaranja',
    columns: ['Podudaranje', 'Platforma', 'Grupa', 'Link poruke', 'Prikupljeno', 'Pronađeno', 'Vrsta podudaranja', 'Status'],
    whole: 'cela slika',
    region: 'deo slike',
    statuses: { new: 'novo', reported: 'prijavljeno', removed: 'uklonjeno', dismissed: 'odbačeno' },
    verify:
      'Ovaj paket je digitalno potpisan. Da biste proverili da u njemu ništa nije izmenjeno, sledite uputstvo u docs/evidence.md: potpis nad datotekom MANIFEST.sha256 proverava se javnim ključem čiji je otisak',
    chain: 'Priloženi unosi iz dnevnika revizije',
    head: 'najnoviji unos u dnevniku u trenutku sačinjavanja paketa',
  },
  'sr-Cyrl': {
    title: 'Пакет доказа',
    intro: 'Копије пријављене фотографије пронађене су у прикупљеном садржају. Ова страница наводи где и када. Пакет не садржи ниједну слику.',
    cases: 'Случај',
    registered: 'пријављен',
    made: (at, by) => `Пакет сачињен: ${at}, на захтев: ${by}`,
    count: 'Подударања',
    columns: ['Подударање', 'Платформа', 'Група', 'Линк поруке', 'Прикупљено', 'Пронађено', 'Врста подударања', 'Статус'],
    whole: 'цела слика',
    region: 'део слике',
    statuses: { new: 'ново', reported: 'пријављено', removed: 'уклоњено', dismissed: 'одбачено' },
    verify:
      'Овај пакет је дигитално потписан. Да бисте проверили да у њему ништа није измењено, следите упутство у docs/evidence.md: потпис над датотеком MANIFEST.sha256 проверава се јавним кључем чији је отисак',
    chain: 'Приложени уноси из дневника ревизије',
    head: 'најновији унос у дневнику у тренутку сачињавања пакета',
  },
  hr: {
    title: 'Paket dokaza',
    intro: 'Kopije prijavljene fotografije pronađene su u prikupljenom sadržaju. Na ovoj stranici navedeno je gdje i kada. Paket ne sadrži nijednu sliku.',
    cases: 'Slučaj',
    registered: 'prijavljen',
    made: (at, by) => `Paket izrađen: ${at}, na zahtjev: ${by}`,
    count: 'Podudaranja',
    columns: ['Podudaranje', 'Platforma', 'Grupa', 'Poveznica na poruku', 'Prikupljeno', 'Pronađeno', 'Vrsta podudaranja', 'Status'],
    whole: 'cijela slika',
    region: 'dio slike',
    statuses: { new: 'novo', reported: 'prijavljeno', removed: 'uklonjeno', dismissed: 'odbačeno' },
    verify:
      'Ovaj je paket digitalno potpisan. Da biste provjerili da u njemu ništa nije promijenjeno, slijedite upute u docs/evidence.md: potpis nad datotekom MANIFEST.sha256 provjerava se javnim ključem čiji je otisak',
    chain: 'Priloženi zapisi iz revizijskog dnevnika',
    head: 'najnoviji zapis u dnevniku u trenutku izrade paketa',
  },
  bs: {
    title: 'Paket dokaza',
    intro: 'Kopije prijavljene fotografije pronađene su u prikupljenom sadržaju. Ova stranica navodi gdje i kada. Paket ne sadrži nijednu sliku.',
    cases: 'Slučaj',
    registered: 'prijavljen',
    made: (at, by) => `Paket sačinjen: ${at}, na zahtjev: ${by}`,
    count: 'Podudaranja',
    columns: ['Podudaranje', 'Platforma', 'Grupa', 'Link poruke', 'Prikupljeno', 'Pronađeno', 'Vrsta podudaranja', 'Status'],
    whole: 'cijela slika',
    region: 'dio slike',
    statuses: { new: 'novo', reported: 'prijavljeno', removed: 'uklonjeno', dismissed: 'odbačeno' },
    verify:
      'Ovaj paket je digitalno potpisan. Da biste provjerili da u njemu ništa nije izmijenjeno, slijedite uputstvo u docs/evidence.md: potpis nad datotekom MANIFEST.sha256 provjerava se javnim ključem čiji je otisak',
    chain: 'Priloženi unosi iz dnevnika revizije',
    head: 'najnoviji unos u dnevniku u trenutku sačinjavanja paketa',
  },
  sq: {
    title: 'Paketa e provave',
    intro: 'Kopje të një fotoje të regjistruar u gjetën në përmbajtjen e mbledhur. Kjo faqe tregon ku dhe kur. Asnjë imazh nuk është pjesë e kësaj pakete.',
    cases: 'Rasti',
    registered: 'regjistruar më',
    made: (at, by) => `Paketa u krijua: ${at}; kërkuesi: ${by}`,
    count: 'Përputhjet',
    columns: ['Përputhja', 'Platforma', 'Grupi', 'Lidhja e mesazhit', 'Mbledhur', 'Gjetur', 'Lloji i përputhjes', 'Statusi'],
    whole: 'i gjithë imazhi',
    region: 'pjesë e imazhit',
    statuses: { new: 'e re', reported: 'e raportuar', removed: 'e hequr', dismissed: 'e hedhur poshtë' },
    verify:
      'Kjo paketë është e nënshkruar në mënyrë dixhitale. Për të kontrolluar që asgjë në të nuk është ndryshuar, ndiqni udhëzimet në docs/evidence.md: nënshkrimi mbi MANIFEST.sha256 kontrollohet me çelësin publik, gjurma e të cilit është',
    chain: 'Hyrjet e përfshira nga regjistri i auditimit',
    head: 'hyrja më e re në regjistër në kohën e krijimit',
  },
} as const satisfies Record<string, SummaryText>;

export type SummaryLanguage = keyof typeof TEXT;
/** The languages a summary is written in, and so those a case can be registered in. */
export const SUMMARY_LANGUAGES = Object.keys(TEXT) as SummaryLanguage[];

export function isSummaryLanguage(language: unknown): language is SummaryLanguage {
  return typeof language === 'string' && Object.hasOwn(TEXT, language);
}

const textFor = (language: string): SummaryText => (isSummaryLanguage(language) ? TEXT[language] : TEXT.en);

/** Each language's text, for the test that every one says everything English says. */
export const SUMMARY_TEXT: Readonly<Record<SummaryLanguage, SummaryText>> = TEXT;

const escape = (text: string | number | null) =>
  String(text ?? '–').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A row's cells: the facts a reader checks, then how it matched and its status in the summary's language. */
function rowCells(m: EvidenceDocument['matches'][number], t: SummaryText): string[] {
  const status = Object.hasOwn(t.statuses, m.status) ? t.statuses[m.status as MatchStatus] : m.status;
  return [m.id, m.item.platform, m.item.group, m.item.messageUrl, m.item.capturedAt, m.foundAt, m.via === 'whole' ? t.whole : t.region, status].map(escape);
}

const headOf = (audit: AuditExtract) => (audit.chainHead ? `#${audit.chainHead.id} ${audit.chainHead.hash}` : '–');

export function evidenceSummary(doc: EvidenceDocument, audit: AuditExtract): string {
  const t = textFor(doc.language);
  const rows = doc.matches.map((m) => rowCells(m, t).map((c) => `<td>${c}</td>`).join(''));
  const cases = doc.cases.map((c) => `<li>${t.cases} <b>${escape(c.caseNumber)}</b> (${t.registered} ${escape(c.registeredAt)})</li>`).join('');
  return `<!doctype html>
<html lang="${escape(doc.language)}"><head><meta charset="utf-8"><title>${t.title}</title>
<style>body{font:11pt sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px;font-size:9pt;word-break:break-all}code{font-size:8pt}</style></head>
<body><h1>${t.title}</h1><p>${t.intro}</p><ul>${cases}</ul>
<p>${t.made(escape(doc.createdAt), escape(doc.createdBy))}. ${t.count}: <b>${doc.matches.length}</b></p>
<table><thead><tr>${t.columns.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('\n')}</tbody></table>
<p>${t.chain}: ${audit.entries.length}; ${t.head}: <code>${escape(headOf(audit))}</code></p>
<p>${t.verify} <code>${escape(doc.signingKeyId)}</code>.</p>
</body></html>
`;
}

/**
 * Where a summary says something else than its document, or null. It checks
 * what the summary states (its language, cases, every match row cell by cell,
 * the chain head, the signing key) and not its prose, so that a package stays
 * verifiable after the wording of a later version changes.
 */
export function summaryDisagreement(html: string, doc: EvidenceDocument, audit: AuditExtract): string | null {
  const t = textFor(doc.language);
  if (!html.includes(`<html lang="${escape(doc.language)}">`)) return `it is not in the language evidence.json names (${doc.language})`;
  const cases = [...html.matchAll(/<li>[^<]*<b>([^<]*)<\/b>/g)].map((m) => m[1]);
  if (cases.join() !== doc.cases.map((c) => escape(c.caseNumber)).join()) return `it names cases ${cases.join(', ') || '-'}`;
  const rows = [...html.matchAll(/<tr>((?:<td>[^<]*<\/td>)*)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td>([^<]*)<\/td>/g)].map((c) => c[1]));
  if (rows.length !== doc.matches.length) return `it lists ${rows.length} matches, evidence.json ${doc.matches.length}`;
  const row = doc.matches.findIndex((m, i) => rowCells(m, t).join('\u0000') !== rows[i].join('\u0000'));
  if (row >= 0) return `its row ${row + 1} is not match ${doc.matches[row].id} as evidence.json gives it`;
  if (!html.includes(`<code>${escape(headOf(audit))}</code>`)) return 'it names another chain head';
  if (!html.includes(`<code>${escape(doc.signingKeyId)}</code>`)) return 'it names another signing key';
  return null;
}
