/**
 * The victim page: pick photos, hash them in the worker, ask /v1/match with
 * the hashes, say what was found and what to do; register the photos as a
 * case; check or withdraw a case. State lives in this object only (nothing
 * in the URL, history or storage) and is re-rendered when the language
 * changes.
 */
import type { WireSignal } from '../match/query.js';
import { ApiFailure, api, type CaseCredentials, type CaseReport, type HelpResource, type HelpResourcesBody, type Sightings, type Takedown } from './api.js';
import { byId, el, show } from './dom.js';
import { LANGUAGE_NAMES, LANGUAGES, type Language, type MessageKey, Translator } from './i18n.js';
import { PhotoHasher } from './photos.js';
import { DEFAULT_EXIT_URL } from './exit.js';

/** As many photos as a case takes (CASE_MAX_IMAGES). */
export const MAX_PHOTOS = 20;

interface Photo {
  index: number;
  signals: WireSignal[];
  thumbnailUrl: string;
}

type Problem = { key: MessageKey; index: number };

/** A country for each language, until she picks one. */
const HOME_COUNTRY: Record<Language, string> = { en: '', mk: 'MK', 'sr-Latn': 'RS', 'sr-Cyrl': 'RS', hr: 'HR', bs: 'BA', sq: 'AL' };

const PROBLEM_KEYS = { UNREADABLE: 'unreadable', TOO_SMALL: 'tooSmall', TOO_LARGE: 'tooLarge' } as const;

export class Page {
  private translator: Translator;
  private readonly hasher = new PhotoHasher();
  private photos: Photo[] = [];
  private problems: Problem[] = [];
  private results: Sightings[] | null = null;
  private help: HelpResourcesBody = { international: [], countries: {} };
  private country: string | null = null;
  private credentials: CaseCredentials | null = null;
  private caseShown: CaseReport | null = null;
  private caseMessage: { key: MessageKey; values?: Record<string, string | number> } | null = null;
  private progress: { done: number; total: number } | null = null;
  private left = false;

  constructor(language: Language) {
    this.translator = new Translator(language);
  }

  get exitUrl(): string {
    return this.help.quickExitUrl ?? DEFAULT_EXIT_URL;
  }

  start(): void {
    const select = byId<HTMLSelectElement>('language');
    select.replaceChildren(...LANGUAGES.map((l) => el('option', { value: l, lang: l }, LANGUAGE_NAMES[l])));
    select.addEventListener('change', () => this.setLanguage(select.value as Language));
    byId<HTMLInputElement>('photos').addEventListener('change', (event) => void this.pick(event.target as HTMLInputElement));
    byId('clear').addEventListener('click', () => this.forget());
    byId('register-button').addEventListener('click', () => void this.register());
    byId('copy').addEventListener('click', () => void this.copyCredentials());
    byId('wrote-down').addEventListener('click', () => this.hideCredentials());
    byId('case-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.checkCase();
    });
    byId('evidence').addEventListener('click', () => void this.downloadEvidence());
    byId('withdraw').addEventListener('click', () => this.askWithdraw());
    byId('withdraw-yes').addEventListener('click', () => void this.withdraw());
    byId<HTMLSelectElement>('country').addEventListener('change', (event) => {
      this.country = (event.target as HTMLSelectElement).value;
      this.renderHelp();
    });
    this.render();
    this.whileHere(api.helpResources()).then(
      (help) => {
        this.help = help;
        this.renderHelp();
      },
      () => undefined,
    );
  }

  setLanguage(language: Language): void {
    this.translator = new Translator(language);
    this.render();
  }

  /** Drops every photo, hash, thumbnail and credential the page holds. */
  /**
   * The quick exit: everything is dropped, and a reply still on its way is
   * ignored, since the page is emptied while the browser leaves and must not
   * draw, download or send anything more.
   */
  leave(): void {
    this.forget();
    this.left = true;
  }

  forget(): void {
    this.hasher.stop();
    for (const photo of this.photos) URL.revokeObjectURL(photo.thumbnailUrl);
    this.photos = [];
    this.problems = [];
    this.results = null;
    this.progress = null;
    this.credentials = null;
    this.caseShown = null;
    this.caseMessage = null;
    byId<HTMLInputElement>('photos').value = '';
    for (const id of ['case-number', 'case-pin']) byId<HTMLInputElement>(id).value = '';
    this.render();
  }

  /** Settles as `pending` does, or never once she has left. */
  private whileHere<T>(pending: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      pending.then(
        (value) => {
          if (!this.left) resolve(value);
        },
        (err: unknown) => {
          if (!this.left) reject(err);
        },
      );
    });
  }

  private t(key: MessageKey, values: Record<string, string | number> = {}): string {
    return this.translator.t(key, values);
  }

  private render(): void {
    const { language } = this.translator;
    document.documentElement.lang = language;
    byId<HTMLSelectElement>('language').value = language;
    for (const node of document.querySelectorAll<HTMLElement>('[data-i18n]')) node.textContent = this.t(node.dataset.i18n as MessageKey);
    document.title = this.t('title');
    byId('pick-hint').textContent = this.t('pickHint', { max: MAX_PHOTOS });
    this.renderPhotos();
    this.renderResults();
    this.renderHelp();
    this.renderRegister();
    this.renderCase();
  }

  private async pick(input: HTMLInputElement): Promise<void> {
    const files = [...(input.files ?? [])].slice(0, MAX_PHOTOS);
    // The files are read once; the input lets go of them at once.
    input.value = '';
    if (files.length === 0) return;
    this.forget();
    this.progress = { done: 0, total: files.length };
    this.renderPhotos();
    for (const [i, file] of files.entries()) {
      const reply = await this.whileHere(this.hasher.hash(file));
      if (reply.ok) {
        this.photos.push({ index: i + 1, signals: reply.signals, thumbnailUrl: URL.createObjectURL(reply.thumbnail) });
        if (reply.lowQuality) this.problems.push({ key: 'lowQuality', index: i + 1 });
      } else {
        this.problems.push({ key: PROBLEM_KEYS[reply.code], index: i + 1 });
      }
      this.progress = { done: i + 1, total: files.length };
      this.renderPhotos();
    }
    // Nothing more to hash: the worker and anything left in it go.
    this.hasher.stop();
    this.progress = null;
    await this.check();
  }

  private renderPhotos(): void {
    byId('thumbnails').replaceChildren(
      ...this.photos.map((p) => el('li', {}, el('img', { src: p.thumbnailUrl, alt: '' }), this.t('photoLabel', { index: p.index }))),
    );
    byId('photo-problems').replaceChildren(...this.problems.map((p) => el('li', {}, this.t(p.key, { index: p.index }))));
    byId('progress').textContent = this.progress ? this.t('hashing', this.progress) : '';
    show(byId('clear'), this.photos.length > 0 || this.problems.length > 0);
  }

  private async check(): Promise<void> {
    if (this.photos.length === 0) return;
    byId('progress').textContent = this.t('checking');
    try {
      this.results = [];
      for (const photo of this.photos) this.results.push(await this.whileHere(api.match(photo.signals)));
      byId('progress').textContent = '';
    } catch (err) {
      this.results = null;
      byId('progress').textContent = this.failure(err);
    }
    this.renderResults();
    this.renderRegister();
    if (this.results) byId('results-heading').focus();
  }

  private renderResults(): void {
    const results = this.results;
    show(byId('results'), results !== null);
    if (!results) return;
    const blocks = results.map((sightings, i) => this.sightingsBlock(this.t('photoLabel', { index: this.photos[i].index }), sightings));
    const anyFound = results.some((s) => s.places > 0);
    if (results.some((s) => s.places === 0)) blocks.push(el('p', {}, this.t('notFoundNote', { total: results.length })));
    byId('results-body').replaceChildren(...blocks);
    byId('next-steps').textContent = this.t(anyFound ? 'nextFound' : 'nextNotFound');
  }

  /** Found or not, where, and when, in words: never a link or an id of what was captured. */
  private sightingsBlock(heading: string, s: Sightings): HTMLElement {
    const lines: HTMLElement[] = [el('h3', {}, heading)];
    if (s.places === 0) {
      lines.push(el('p', {}, this.t('notFound')));
    } else {
      lines.push(el('p', {}, el('strong', {}, this.t('found', { places: s.places }))));
      if (s.platforms.length > 0) lines.push(el('p', {}, this.t('platforms', { list: this.translator.list(s.platforms) })));
      if (s.groups.length > 0) lines.push(el('p', {}, this.t('groups', { list: this.translator.list(s.groups.map((g) => this.t('groupOn', g))) })));
      if (s.firstSeen) lines.push(el('p', {}, this.t('firstSeen', { date: this.translator.date(s.firstSeen) })));
      if (s.lastSeen) lines.push(el('p', {}, this.t('lastSeen', { date: this.translator.date(s.lastSeen) })));
    }
    return el('div', { class: `photo-result${s.places > 0 ? ' found' : ''}` }, ...lines);
  }

  private renderHelp(): void {
    const { language } = this.translator;
    const countries = Object.entries(this.help.countries).sort(([, a], [, b]) => localized(a.name, language).localeCompare(localized(b.name, language), language));
    const chosen = this.country ?? (this.help.countries[HOME_COUNTRY[language]] ? HOME_COUNTRY[language] : '');
    byId<HTMLSelectElement>('country').replaceChildren(
      ...countries.map(([code, c]) => el('option', { value: code }, localized(c.name, language))),
      el('option', { value: '' }, this.t('countryOther')),
    );
    byId<HTMLSelectElement>('country').value = chosen;
    const resources = [...(this.help.countries[chosen]?.resources ?? []), ...this.help.international];
    byId('help-list').replaceChildren(...resources.map((r) => this.helpItem(r)));
  }

  private helpItem(resource: HelpResource): HTMLElement {
    const { language } = this.translator;
    const kind: Record<HelpResource['kind'], MessageKey> = { report: 'kindReport', legal: 'kindLegal', helpline: 'kindHelpline', police: 'kindPolice' };
    const label = this.t(kind[resource.kind]);
    const name = localized(resource.name, language);
    const parts: (Node | string)[] = [el('strong', {}, name === label ? label : `${label}: `), name === label ? '' : name];
    if (resource.phone) parts.push(' ', el('a', { href: `tel:${resource.phone.replace(/[^0-9+]/g, '')}` }, resource.phone));
    if (resource.url) parts.push(' ', el('a', { href: resource.url, rel: 'noopener noreferrer', target: '_blank' }, resource.url.replace(/^https:\/\//, '')));
    if (resource.email) parts.push(' ', el('a', { href: `mailto:${resource.email}` }, resource.email));
    if (resource.description) parts.push(el('br'), localized(resource.description, language));
    return el('li', {}, ...parts);
  }

  private renderRegister(): void {
    show(byId('register'), this.results !== null && this.photos.length > 0);
    byId('register-button').textContent = this.t('registerButton', { count: this.photos.length });
    show(byId('register-button'), this.credentials === null);
    show(byId('credentials'), this.credentials !== null);
    byId('new-case-number').textContent = this.credentials?.caseNumber ?? '';
    byId('new-pin').textContent = this.credentials?.pin ?? '';
  }

  private async register(): Promise<void> {
    const status = byId('register-status');
    status.textContent = '';
    try {
      // In the language she reads the page in: her evidence package's summary will be too.
      const created = await this.whileHere(api.createCase(this.photos.flatMap((p) => p.signals), this.translator.language));
      this.credentials = { caseNumber: created.caseNumber, pin: created.pin };
    } catch (err) {
      status.textContent = this.failure(err);
      return;
    }
    this.renderRegister();
    byId('credentials-heading').focus();
  }

  private async copyCredentials(): Promise<void> {
    if (!this.credentials) return;
    const text = `${this.t('caseNumber')}: ${this.credentials.caseNumber}\n${this.t('pin')}: ${this.credentials.pin}`;
    try {
      await this.whileHere(navigator.clipboard.writeText(text));
      byId('copy-status').textContent = this.t('copied');
    } catch {
      // No clipboard (an insecure origin, a refused permission): select them so she can copy by hand.
      getSelection()?.selectAllChildren(byId('credentials').querySelector('dl')!);
    }
  }

  /** Shown once: once she has them, the page forgets them. */
  private hideCredentials(): void {
    this.credentials = null;
    byId('copy-status').textContent = '';
    this.renderRegister();
    byId('register-button').hidden = true;
    byId('case-heading').setAttribute('tabindex', '-1');
    byId('case-heading').focus();
  }

  private enteredCase(): CaseCredentials {
    return { caseNumber: byId<HTMLInputElement>('case-number').value, pin: byId<HTMLInputElement>('case-pin').value };
  }

  private async checkCase(): Promise<void> {
    this.caseShown = null;
    this.caseMessage = null;
    try {
      this.caseShown = await this.whileHere(api.readCase(this.enteredCase()));
    } catch (err) {
      this.caseMessage = this.failureMessage(err);
    }
    this.renderCase();
  }

  private renderCase(): void {
    const result = byId('case-result');
    show(byId('withdraw'), this.caseShown !== null);
    show(byId('withdraw-confirm'), false);
    show(byId('case-evidence'), this.caseShown !== null);
    byId('evidence-status').textContent = '';
    if (this.caseShown) {
      const { caseNumber, createdAt, sightings, takedown } = this.caseShown;
      const summary = el('p', {}, this.t('caseReport', { caseNumber, date: this.translator.date(createdAt), matches: sightings.places }));
      result.replaceChildren(summary, ...(sightings.places > 0 ? [this.sightingsBlock(caseNumber, sightings)] : []), this.takedownBlock(takedown));
    } else {
      result.replaceChildren(...(this.caseMessage ? [el('p', {}, this.t(this.caseMessage.key, this.caseMessage.values))] : []));
    }
  }

  /** What monitoring found and how far removal got, in counts, groups and dates only. */
  private takedownBlock({ status, items, removed, sightings }: Takedown): HTMLElement {
    const key: Record<Takedown['status'], MessageKey> = { open: 'takedownOpen', found: 'takedownFound', 'all removed': 'takedownAllRemoved' };
    const lines: HTMLElement[] = [el('h3', {}, this.t('takedownHeading')), el('p', { class: 'takedown-progress' }, el('strong', {}, this.t(key[status], { items, removed, left: items - removed })))];
    const { groups, firstSeen, lastSeen } = sightings;
    if (groups.length > 0) lines.push(el('p', {}, this.t('groups', { list: this.translator.list(groups.map((g) => this.t('groupOn', g))) })));
    if (firstSeen) lines.push(el('p', {}, this.t('firstSeen', { date: this.translator.date(firstSeen) })));
    if (lastSeen) lines.push(el('p', {}, this.t('lastSeen', { date: this.translator.date(lastSeen) })));
    return el('div', { class: 'takedown' }, ...lines);
  }

  /** Saved from memory through a short-lived object URL: the PIN goes in a header, never in a link. */
  private async downloadEvidence(): Promise<void> {
    const status = byId('evidence-status');
    status.textContent = this.t('evidencePreparing');
    try {
      const { blob, fileName } = await this.whileHere(api.caseEvidence(this.enteredCase(), this.translator.language));
      const url = URL.createObjectURL(blob);
      el('a', { href: url, download: fileName }).click();
      // The browser reads the blob after the click returns; give it time, then let go of it.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = this.t('evidenceSaved', { fileName });
    } catch (err) {
      status.textContent = this.failure(err);
    }
  }

  private askWithdraw(): void {
    show(byId('withdraw-confirm'), true);
    byId('withdraw-yes').focus();
  }

  private async withdraw(): Promise<void> {
    try {
      await this.whileHere(api.withdrawCase(this.enteredCase()));
      this.caseShown = null;
      this.caseMessage = { key: 'withdrawn' };
      for (const id of ['case-number', 'case-pin']) byId<HTMLInputElement>(id).value = '';
    } catch (err) {
      this.caseMessage = this.failureMessage(err);
    }
    this.renderCase();
  }

  private failureMessage(err: unknown): { key: MessageKey; values?: Record<string, number> } {
    if (err instanceof ApiFailure && err.status === 404) return { key: 'wrongPin' };
    if (err instanceof ApiFailure && err.status === 429) return { key: 'tooManyTries', values: { minutes: Math.max(1, Math.ceil((err.retryAfter ?? 60) / 60)) } };
    return { key: 'failed' };
  }

  private failure(err: unknown): string {
    const { key, values } = this.failureMessage(err);
    return this.t(key, values);
  }
}

/** Text in her language, else in the language without its script, else English. */
function localized(text: { en: string } & Record<string, string>, language: Language): string {
  return text[language] ?? text[language.split('-')[0]] ?? text.en;
}
