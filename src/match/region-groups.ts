/**
 * Which kinds of region can find each other, and so which part of a region
 * type's index a search looks in.
 *
 * A query (her photo, or what her case keeps) is hashed over hundreds of
 * crops, turns and corner patches; captured content keeps its frame, its
 * parts and cells, corner patches, quadrants and ninths. A repost is found by
 * a crop of her photo against the repost's frame or one of its parts, by a
 * corner patch against a corner patch, by a quadrant or ninth against a
 * quadrant or ninth; almost never across those groups (measured by
 * `npm run bench:quality -- --kinds`, docs/robust-matching.md). So each
 * group's hashes are indexed apart and searched only by the groups that can
 * find them: about a third of the (query, content) pairs are compared, and
 * an exact search verifies a third of the candidates.
 *
 * The whole frame is its own part, searched by every group but patches: a
 * collage whose cell is exactly a quadrant or a ninth of it, or a repost
 * that is the whole photo, is found by the frame against those too. It is
 * one hash an item (8 turns of a query), so this costs almost nothing.
 *
 * A region hash whose kind is not known (imported from another system, or
 * stored before kinds were kept) is in the type's own index, which every
 * search looks in; a query hash of no known kind looks in every part.
 * Matching is symmetric: a case against content finds what content against
 * the case does.
 */
import type { KnownSignalType } from '../hashing/registry.js';
import { REGION_KINDS, type RegionKind } from '../hashing/pdq-region.js';

export const REGION_GROUPS = ['frame', 'frames', 'patches', 'grid'] as const;
export type RegionGroup = (typeof REGION_GROUPS)[number];

const GROUP_OF: Readonly<Record<RegionKind, RegionGroup>> = {
  frame: 'frame',
  crop: 'frames',
  rotation: 'frames',
  part: 'frames',
  strip: 'frames',
  patch: 'patches',
  quadrant: 'grid',
  ninth: 'grid',
};

/** The groups a hash of each group can match; symmetric (a group is in another's list exactly when that one is in its). */
const FINDS: Readonly<Record<RegionGroup, readonly RegionGroup[]>> = {
  frame: ['frame', 'frames', 'grid'],
  frames: ['frame', 'frames'],
  patches: ['patches'],
  grid: ['frame', 'grid'],
};

export function regionGroup(kind: RegionKind): RegionGroup {
  return GROUP_OF[kind];
}

/** Whether a region of kind `a` can match one of kind `b` (either unknown: yes). */
export function regionsCanMatch(a: RegionKind | null, b: RegionKind | null): boolean {
  return a === null || b === null || FINDS[GROUP_OF[a]].includes(GROUP_OF[b]);
}

const partName = (type: string, group: RegionGroup): string => `${type}/${group}`;

/** The index parts of one signal type: its own name (for hashes of unknown kind), and one per group for region types. */
export function indexPartsOf(type: KnownSignalType): string[] {
  return type.scope === 'region' ? [type.name, ...REGION_GROUPS.map((group) => partName(type.name, group))] : [type.name];
}

/** The index part a stored hash lives in. */
export function indexPartOf(type: KnownSignalType, region: RegionKind | null): string {
  return type.scope === 'region' && region !== null ? partName(type.name, GROUP_OF[region]) : type.name;
}

/** Per type name, the parts each region kind (null: unknown) searches: made once, as every search asks. */
const SEARCHED = new Map<string, ReadonlyMap<RegionKind | null, readonly string[]>>();

/** The index parts a search for a hash of this type and region kind looks in. */
export function indexPartsSearched(type: KnownSignalType, region: RegionKind | null): readonly string[] {
  let byRegion = SEARCHED.get(type.name);
  if (!byRegion) {
    const all = indexPartsOf(type);
    const parts = (kind: RegionKind): readonly string[] =>
      type.scope === 'region' ? [type.name, ...FINDS[GROUP_OF[kind]].map((group) => partName(type.name, group))] : all;
    byRegion = new Map<RegionKind | null, readonly string[]>([[null, all], ...REGION_KINDS.map((kind): [RegionKind, readonly string[]] => [kind, parts(kind)])]);
    SEARCHED.set(type.name, byRegion);
  }
  return byRegion.get(region)!;
}
