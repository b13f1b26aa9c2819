/**
 * The query module's rules, one by one: how hashes, images and form fields
 * become a query, which thresholds apply, and what a client sends.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DIHEDRAL_NAMES } from '../src/hashing/pdq.js';
import { hashImage } from '../src/image/hash-image.js';
import {
  checkQueryOptions,
  expandSignals,
  imageHashingFor,
  MAX_QUERY_SIGNALS,
  queryFromHashes,
  queryFromImage,
  queryFromSignals,
  queryOptionsFromFields,
  searchedSignals,
  thresholdShorthand,
  toWireSignals,
} from '../src/match/query.js';
import type { ImageSignals } from '../src/robust/image-signals.js';
import { PDQ_DIR } from './helpers/fixtures.js';

const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

t.test('hashes: each checked against its type, errors naming the item', async (t) => {
  const q = queryFromHashes([{ type: 'pdq', hash: PDQ.toUpperCase() }, { type: 'md5', hash: MD5 }]);
  t.same(q.signals.map((s) => [s.type.name, s.type.format(s.hash)]), [['pdq', PDQ], ['md5', MD5]], 'either case in');
  t.equal(q.mode, 'robust', 'robust by default');
  t.ok(q.fromHashes);
  t.notOk(q.dihedral, 'bare hashes cannot be turned');
  const refused = (signals: object[], code: string, message: RegExp, options = {}) => t.throws(() => queryFromHashes(signals as never, options), { code, message });
  refused([{ type: 'phash', hash: PDQ }], 'INVALID_REQUEST', /signals\[0\]\.type "phash" is not a signal type; use pdq, blockhash, md5, sha256, pdq-norm or pdq-region/);
  refused([{ type: 'md5', hash: MD5 }, { type: 'pdq', hash: PDQ.slice(1) }], 'INVALID_HASH', /signals\[1\]\.hash \(pdq\) must be exactly 64 hex characters/);
  refused([{ type: 'md5', hash: 'x'.repeat(32) }], 'INVALID_HASH', /not hex at position 1/);
  refused([{ type: 'pdq', hash: PDQ, region: 'crop' }], 'INVALID_REQUEST', /region is only for region hashes \(pdq-region\)/);
  refused([{ type: 'md5', hash: MD5, variant: 'rot90' }], 'INVALID_REQUEST', /variant is only for perceptual hashes/);
  refused([{ type: 'pdq-region', hash: PDQ, region: 'corner' }], 'INVALID_REQUEST', /signals\[0\]\.region "corner" is not one of frame, part/);
  refused([{ type: 'pdq', hash: PDQ, variant: 'rot45' }], 'INVALID_REQUEST', /variant "rot45"/);
  refused([{ type: 'pdq-region', hash: PDQ }], 'INVALID_REQUEST', /pdq-region hash, which mode "pdq" does not match/, { mode: 'pdq' });
  refused([{ type: 'pdq', hash: PDQ }], 'INVALID_REQUEST', /dihedral matching needs the image/, { dihedral: true });
  refused([], 'INVALID_REQUEST', /at least one hash/);
  refused([{ type: 'pdq', hash: PDQ }], 'INVALID_REQUEST', /banks must be a non-empty list/, { banks: [] });
  const labelled = queryFromHashes([{ type: 'pdq-region', hash: PDQ, region: 'crop', variant: 'flipx' }]);
  t.match(labelled.signals[0], { region: 'crop', variant: 'flipx' }, 'what the client knows of a hash is kept, to be reported with a match');
});

t.test('thresholds: the PDQ shorthand, per-type thresholds, and what a hash query is told', async (t) => {
  t.same(thresholdShorthand(20), { pdq: 20, 'pdq-norm': 20, 'pdq-region': 20 });
  t.same(thresholdShorthand(31, 'pdq'), { pdq: 31, 'pdq-norm': 24 }, 'pdq mode: no regions; pdq-norm never loosened past its 24');
  const all = [{ type: 'pdq', hash: PDQ }, { type: 'pdq-region', hash: PDQ }, { type: 'pdq-norm', hash: PDQ }];
  t.same(queryFromHashes(all, { threshold: 10 }).thresholds, { pdq: 10, 'pdq-norm': 10, 'pdq-region': 10 });
  t.same(queryFromHashes(all, { threshold: 10, thresholds: { 'pdq-norm': 5 } }).thresholds, { pdq: 10, 'pdq-norm': 5, 'pdq-region': 10 }, 'a per-type one wins for pdq-norm');
  t.same(queryFromHashes([{ type: 'pdq', hash: PDQ }], { threshold: 10 }).thresholds, { pdq: 10 }, 'only for the types the query has');
  t.same(queryFromHashes([{ type: 'pdq', hash: PDQ }], { threshold: 10 }).warnings, [], 'implied thresholds of absent types are dropped silently');
  const unused = queryFromHashes([{ type: 'md5', hash: MD5 }], { threshold: 10, thresholds: { blockhash: 4 } });
  t.same(unused.thresholds, {});
  t.same(unused.warnings.map((w) => w.code), ['THRESHOLD_NOT_USED', 'THRESHOLD_NOT_USED'], 'pdq and blockhash given for a query without them');
  const refused = (options: object, message: RegExp) => t.throws(() => queryFromHashes([{ type: 'pdq', hash: PDQ }], options), { code: 'INVALID_REQUEST', message });
  refused({ threshold: 10, thresholds: { pdq: 12 } }, /"threshold" and "thresholds.pdq" disagree/);
  refused({ threshold: 10, thresholds: { 'pdq-region': 12 } }, /"threshold" and "thresholds.pdq-region" disagree/);
  refused({ thresholds: { md5: 2 } }, /only perceptual types have thresholds/);
  refused({ thresholds: { pdq: 257 } }, /thresholds.pdq must be a whole number from 0 to 256/);
  refused({ thresholds: { pdq: 2.5 } }, /whole number/);
  t.doesNotThrow(() => checkQueryOptions({ threshold: 31, banks: [1, 2] }, true));
  t.throws(() => checkQueryOptions({ dihedral: true }, true), { code: 'INVALID_REQUEST' }, 'a batch of hashes cannot ask for rotations');
  t.doesNotThrow(() => checkQueryOptions({ dihedral: true }, false), 'a batch of images can');
});

t.test('form fields read as the JSON options are', async (t) => {
  t.same(queryOptionsFromFields({ mode: 'pdq', dihedral: '1', threshold: '24', banks: '3, 1,3' }), { mode: 'pdq', dihedral: true, threshold: 24, banks: [3, 1] });
  t.same(queryOptionsFromFields({}), {});
  const refused = (fields: Record<string, string>, message: RegExp) => t.throws(() => queryOptionsFromFields(fields), { code: 'INVALID_REQUEST', message });
  refused({ mode: 'fast' }, /The form field "mode" must be robust or pdq/);
  refused({ dihedral: 'yes' }, /"dihedral" must be true or false/);
  for (const threshold of ['', ' ', '0x1f', '-1', '257', '1e2']) refused({ threshold }, /"threshold" must be a whole number from 0 to 256/);
  for (const banks of ['', '0', '1,,2', 'a', '01']) refused({ banks }, /"banks" must be up to 100 bank ids/);
});

t.test('an image: digests first, then PDQ (with its DCT) and blockhash, then its regions', async (t) => {
  const hashed = await hashImage(readFileSync(join(PDQ_DIR, 'bridge-1-original.jpg')), imageHashingFor('robust'));
  const robust = queryFromImage(hashed);
  t.same(robust.signals.slice(0, 4).map((s) => s.type.name), ['md5', 'sha256', 'pdq', 'blockhash']);
  t.ok(robust.signals[2].dct, 'PDQ keeps its DCT, for its rotations');
  t.ok(robust.signals.slice(4).every((s) => s.type.name === 'pdq-region' && s.region !== null), 'then every query region, named');
  t.ok(robust.dihedral, 'robust always searches rotations and mirrors');
  t.notOk(robust.fromHashes);
  t.same(robust.warnings, []);

  const wire = toWireSignals(robust);
  t.ok(wire.length <= MAX_QUERY_SIGNALS, `${wire.length} hashes fit one request`);
  t.same(wire.filter((s) => s.type === 'pdq').map((s) => s.variant), [...DIHEDRAL_NAMES], "PDQ's 8 rotations and mirrors, labelled");
  const frame = wire.filter((s) => s.type === 'pdq-region' && s.region === 'frame');
  t.same(frame.map((s) => s.variant).sort(), [...DIHEDRAL_NAMES].sort(), "the frame region's 8 rotations and mirrors go too: a turned repost's region matches");
  const back = queryFromHashes(wire);
  t.same(
    searchedSignals(back).map((s) => `${s.type.name}:${s.type.format(s.code)}`),
    searchedSignals(robust).slice(0, wire.length).map((s) => `${s.type.name}:${s.type.format(s.code)}`),
    'sent as hashes, the query searches exactly what the image does',
  );
  t.equal(new Set(searchedSignals(robust).map((s) => `${s.type.name}:${s.region}:${s.type.format(s.code)}`)).size, searchedSignals(robust).length, 'each hash of each kind searched once');

  // Stored hashes keep their kinds into a query (a scan's), and an equal hash of two kinds is searched as each: they look in different parts of the index.
  const code = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const stored = queryFromSignals([
    { type: 'pdq-region', hash: code, region: 'crop' },
    { type: 'pdq-region', hash: code, region: 'ninth' },
    { type: 'pdq-region', hash: code, region: 'crop' },
    { type: 'pdq-region', hash: code },
  ]);
  t.same(stored.signals.map((s) => s.region), ['crop', 'ninth', 'crop', null], 'kinds as stored');
  t.same(searchedSignals(stored).map((s) => s.region), ['crop', 'ninth', null], 'searched once per kind');

  const pdqOnly = queryFromImage(await hashImage(readFileSync(join(PDQ_DIR, 'bridge-1-original.jpg')), imageHashingFor('pdq')), { mode: 'pdq' });
  t.same(pdqOnly.signals.map((s) => s.type.name), ['md5', 'sha256', 'pdq', 'blockhash'], 'pdq mode: whole-image hashes only');
  t.notOk(pdqOnly.dihedral);
  t.equal(expandSignals(pdqOnly).length, 4, 'and no rotations unless asked');
  t.equal(expandSignals(queryFromImage(hashed, { mode: 'pdq', dihedral: true })).filter((s) => s.type.name === 'pdq').length, 8);
});

t.test('a featureless image: its stretched-contrast PDQ and regions when it has them, else exact copies', async (t) => {
  const bytes = (n: number) => new Uint8Array(32).fill(n);
  const base: ImageSignals = { md5: new Uint8Array(16), sha256: bytes(1), blockhash: bytes(2), regions: [{ hash: bytes(3), quality: 80, kind: 'crop' }] };
  const pdq = (quality: number) => ({ hash: bytes(4), quality, lowQuality: quality < 50, dct: new Float32Array(256) });
  const dark = queryFromImage({ ...base, pdq: pdq(12), 'pdq-norm': pdq(70) });
  t.same(dark.signals.map((s) => s.type.name), ['md5', 'sha256', 'pdq-norm', 'pdq-region'], 'no featureless PDQ or blockhash');
  t.match(dark.warnings, [{ code: 'LOW_QUALITY', message: /stretched contrast/ }]);
  const flat = queryFromImage({ ...base, pdq: pdq(3), 'pdq-norm': pdq(10), regions: [] });
  t.same(flat.signals.map((s) => s.type.name), ['md5', 'sha256']);
  t.match(flat.warnings, [{ code: 'LOW_QUALITY', message: /only exact copies/ }]);
  t.same(queryFromImage({ ...base, pdq: pdq(80) }).signals.map((s) => s.type.name), ['md5', 'sha256', 'pdq', 'blockhash', 'pdq-region'], 'a clear photo has no pdq-norm');
});

t.test("a case's stored hashes as a query", async (t) => {
  const q = queryFromSignals([{ type: 'pdq', hash: new Uint8Array(32) }, { type: 'md5', hash: new Uint8Array(16) }]);
  t.same(q.signals.map((s) => s.type.name), ['pdq', 'md5']);
  t.notOk(q.fromHashes, 'not a client: no signal index reported');
  t.throws(() => queryFromSignals([{ type: 'pdq', hash: new Uint8Array(16) }]), { code: 'INVALID_REQUEST' });
  t.throws(() => queryFromSignals([]), { code: 'INVALID_REQUEST' });
});
