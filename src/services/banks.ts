/**
 * Banks of captured content and the items in them: hashes of what was seen in
 * abusive groups, and where it was seen, never the images. An item is
 * matchable as soon as it is added (the store tells the indexes before it
 * returns) and stops matching as soon as it is deleted.
 */
import { findSignalType, type SignalTypeName } from '../hashing/registry.js';
import { parseSignals, thresholdShorthand, type WireSignal } from '../match/query.js';
import { MAX_CONTENT_REGIONS, type RegionKind } from '../robust/regions.js';
import { type ImageSignals, WHOLE_IMAGE_SIGNALS, WHOLE_IMAGE_TYPES, wholeImageHash } from '../robust/image-signals.js';
import type { AddedContent, Bank, ContentItem, NewContentItem, NewProvenance, NewSignal, Signal, ThresholdsByType } from '../store/store.js';
import { ServiceError } from './errors.js';
import type { ServiceContext } from './context.js';

/**
 * Hashes of one item sent as JSON: everything an image ingest stores (its
 * whole-image signals and content region hashes), so any item can be sent
 * back as it was stored, and a few more for re-encodings seen elsewhere.
 */
export type { Bank, ContentItem, Signal } from '../store/store.js';

export const MAX_SIGNALS_PER_ITEM = WHOLE_IMAGE_SIGNALS.length + MAX_CONTENT_REGIONS + 8;
/** The service exists for abusive Telegram groups, so that is what an item's platform is unless the caller says otherwise. */
export const DEFAULT_PLATFORM = 'telegram';

export interface BankInput {
  name: string;
  description?: string;
  /** The PDQ threshold for whole-image and region hashes alike: shorthand for thresholds.pdq and thresholds['pdq-region']. */
  threshold?: number;
  thresholds?: Partial<Record<SignalTypeName, number>>;
}

export interface BankPatchInput extends Partial<Omit<BankInput, 'thresholds'>> {
  /** Replaces every override; null clears them. */
  thresholds?: Partial<Record<SignalTypeName, number>> | null;
}

/** Where an item was seen, as the API names it. */
export interface ProvenanceInput {
  platform?: string;
  group?: string | null;
  messageUrl?: string | null;
  capturedAt?: string | null;
  metadata?: Record<string, unknown>;
  note?: string | null;
}

export interface ContentSignalInput extends WireSignal {
  quality?: number;
}

export interface ContentItemInput extends ProvenanceInput {
  signals: ContentSignalInput[];
}

/** A stored hash as text, as the API shows it and takes it back. */
export interface SignalText {
  type: string;
  hash: string;
  quality: number | null;
  /** Region hashes of a known kind only. */
  region?: RegionKind;
}

export interface AddedItem {
  id: number;
  signals: SignalText[];
  warnings?: { code: string; message: string }[];
}

export function signalText(s: Pick<Signal, 'type' | 'hash'> & { quality?: number | null; region?: RegionKind | null }): SignalText {
  return { type: s.type, hash: findSignalType(s.type)!.format(s.hash), quality: s.quality ?? null, ...(s.region ? { region: s.region } : {}) };
}

function toNewProvenance(fields: ProvenanceInput, current?: ContentItem['provenance']): NewProvenance {
  const keep = <T>(given: T | undefined, old: T | null | undefined) => (given === undefined ? old : given);
  return {
    platform: fields.platform ?? current?.platform ?? DEFAULT_PLATFORM,
    channel: keep(fields.group, current?.channel),
    messageRef: keep(fields.messageUrl, current?.messageRef),
    capturedAt: keep(fields.capturedAt, current?.capturedAt),
  };
}

function newItem(fields: ProvenanceInput, signals: NewSignal[]): NewContentItem {
  return { provenance: toNewProvenance(fields), metadata: fields.metadata, note: fields.note, signals };
}

/**
 * What a captured image is stored as: its whole-image signals and content
 * region hashes; a featureless image (PDQ quality under 50) only its exact
 * digests, since its perceptual hashes would match strangers' featureless
 * images, and the answer says so.
 */
export function capturedImageSignals(hashed: ImageSignals): { signals: NewSignal[]; warnings: { code: string; message: string }[] } {
  const pdq = hashed.pdq!;
  const fallback = hashed['pdq-norm'];
  const of = (types: readonly (typeof WHOLE_IMAGE_TYPES)[number][]): NewSignal[] =>
    types.map((t) => ({ type: t.name, hash: wholeImageHash(hashed, t.name)!, ...(t.name === 'pdq' || t.name === 'pdq-norm' ? { quality: hashed[t.name]!.quality } : {}) }));
  const exact = of(WHOLE_IMAGE_TYPES.filter((t) => t.comparison === 'exact'));
  const regions = (hashed.regions ?? []).map((r) => ({ type: 'pdq-region', hash: r.hash, quality: r.quality, region: r.kind }));
  if (!pdq.lowQuality) return { signals: [...of(WHOLE_IMAGE_TYPES.filter((t) => t.comparison === 'hamming' && !('fallbackFor' in t))), ...exact, ...regions], warnings: [] };
  if (fallback && !fallback.lowQuality) {
    const message = `PDQ quality ${pdq.quality} is under 50 (a dark or low-contrast image): stored as PDQ of its stretched contrast (pdq-norm), its regions and exact hashes.`;
    return { signals: [...of(WHOLE_IMAGE_TYPES.filter((t) => 'fallbackFor' in t)), ...exact, ...regions], warnings: [{ code: 'LOW_QUALITY', message }] };
  }
  const message = `PDQ quality ${pdq.quality} is under 50: too little detail for perceptual matching, so only exact copies of this image will match.`;
  return { signals: exact, warnings: [{ code: 'LOW_QUALITY', message }] };
}

export class BankService {
  constructor(private readonly services: ServiceContext) {}

  create(input: BankInput): Bank {
    const bank = this.services.store.createBank({ name: input.name, description: input.description, thresholds: overrides(input.threshold, input.thresholds, {}) });
    this.services.trail.record('bank.created', { target: `bank:${bank.id}` });
    return bank;
  }

  list(): readonly Bank[] {
    return this.services.store.listBanks();
  }

  get(id: number): Bank {
    return this.services.store.getBank(id);
  }

  /** `threshold` changes the PDQ overrides (whole image and regions) and keeps the others; `thresholds` replaces them all. */
  update(id: number, patch: BankPatchInput): Bank {
    const { store } = this.services;
    const changesThresholds = patch.threshold !== undefined || patch.thresholds !== undefined;
    const base = patch.thresholds === undefined ? store.getBank(id).thresholds : {};
    return store.updateBank(id, {
      name: patch.name,
      description: patch.description,
      thresholds: changesThresholds ? overrides(patch.threshold, patch.thresholds ?? undefined, base) : undefined,
    });
  }

  delete(id: number): void {
    this.services.store.deleteBank(id);
    this.services.trail.record('bank.deleted', { target: `bank:${id}` });
  }

  /**
   * Every image is hashed before anything is stored, and one that cannot be
   * read fails the whole request (naming it) with nothing stored: the caller
   * resends the good ones, rather than working out which items exist.
   */
  async addImages(bankId: number, files: readonly { filename: string; bytes: Uint8Array }[], fields: ProvenanceInput): Promise<AddedItem[]> {
    // Refuse an unknown bank before hashing up to a hundred images for nothing.
    this.services.store.getBank(bankId);
    const prepared = [];
    for (const [i, file] of files.entries()) {
      const name = `images[${i}] (${JSON.stringify(file.filename.slice(0, 200))})`;
      // Region hashes too, so that robust queries find crops, screenshots and the like of this image.
      prepared.push(capturedImageSignals(await this.services.hashing.hashNamed(file.bytes, name, 'Nothing was stored.', { regions: 'content' })));
    }
    const { contentIds } = this.ingest(bankId, prepared.map((p) => newItem(fields, p.signals)));
    return prepared.map((p, i) => ({ id: contentIds[i], signals: p.signals.map(signalText), warnings: p.warnings }));
  }

  /** Items given as hashes, all checked before anything is stored. */
  addHashes(bankId: number, items: readonly ContentItemInput[]): AddedItem[] {
    const prepared = items.map(({ signals, ...fields }, i) => {
      const parsed = parseSignals(signals, `items[${i}].signals`);
      return newItem(
        fields,
        parsed.map((s, j) => ({ type: s.type.name, hash: s.hash, quality: signals[j].quality ?? null, region: s.region })),
      );
    });
    const { contentIds } = this.ingest(bankId, prepared);
    return prepared.map((item, i) => ({ id: contentIds[i], signals: item.signals!.map(signalText) }));
  }

  /** Stores the items, each ingestion an audit entry: evidence names who brought an item in, and when. */
  private ingest(bankId: number, items: NewContentItem[]): AddedContent {
    const added = this.services.store.addContent(bankId, items);
    for (const id of added.contentIds) this.services.trail.record('content.ingested', { target: `content:${id}`, details: { bankId } });
    return added;
  }

  /** A bank's items in id order, `limit` after `after`; `nextAfter` names the next page, null on the last. */
  listContent(bankId: number, limit: number, after = 0): { items: ContentItem[]; nextAfter: number | null } {
    // One more than asked tells whether another page exists.
    const items = this.services.store.listContent(bankId, { limit: limit + 1, afterId: after });
    const page = items.slice(0, limit);
    return { items: page, nextAfter: items.length > limit ? page[page.length - 1].id : null };
  }

  getContent(id: number): { item: ContentItem; signals: SignalText[] } {
    const item = this.services.store.getContent(id);
    return { item, signals: this.services.store.listSignals({ kind: 'content', contentId: id }).map(signalText) };
  }

  /** Corrects provenance, metadata or note; null clears a field; the hashes stay. */
  updateContent(id: number, patch: ProvenanceInput): { item: ContentItem; signals: SignalText[] } {
    const { store } = this.services;
    const changesProvenance = [patch.platform, patch.group, patch.messageUrl, patch.capturedAt].some((v) => v !== undefined);
    const provenance = changesProvenance ? toNewProvenance(patch, store.getContent(id).provenance) : undefined;
    store.updateContent(id, { provenance, metadata: patch.metadata, note: patch.note });
    return this.getContent(id);
  }

  deleteContent(id: number): void {
    this.services.store.deleteContent(id);
    this.services.trail.record('content.deleted', { target: `content:${id}` });
  }
}

/**
 * `threshold` and `thresholds` combined into one override set. `threshold`
 * is the PDQ threshold for whole-image and region hashes alike (robust
 * matching, the default, finds most copies through regions: a bank made
 * strict must be strict there too). Values above a type's ceiling are refused
 * here rather than silently lowered at every match: a bank's owner should
 * know the bank cannot match that loosely.
 */
function overrides(threshold: number | undefined, thresholds: Partial<Record<string, number>> | undefined, base: ThresholdsByType): Record<string, number> {
  for (const type of ['pdq', 'pdq-region']) {
    if (threshold !== undefined && thresholds?.[type] !== undefined && threshold !== thresholds[type]) {
      throw new ServiceError('INVALID_REQUEST', `"threshold" and "thresholds.${type}" disagree; send one of them.`);
    }
  }
  const merged = { ...base, ...thresholds, ...(threshold === undefined ? {} : thresholdShorthand(threshold)) } as Record<string, number>;
  for (const [name, value] of Object.entries(merged)) {
    const type = findSignalType(name);
    if (!type || type.comparison !== 'hamming') throw new ServiceError('INVALID_REQUEST', `${name} has no threshold: only perceptual types do.`);
    if (value > type.maxThreshold) throw new ServiceError('INVALID_REQUEST', `The ${name} threshold ${value} is above this service's ceiling of ${type.maxThreshold}.`);
  }
  return merged;
}
