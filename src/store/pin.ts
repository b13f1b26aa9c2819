import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Case PINs are short, so their hash only slows offline guessing down; the
 * database still needs protecting and PIN attempts rate limiting. Stored as
 * `scrypt$N$r$p$salt$hash` (base64) so parameters can be raised later while
 * old hashes keep verifying.
 */
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
/** N * r * 128 bytes is 32 MiB, Node's default cap; leave headroom. */
const MAX_MEMORY = 64 * 1024 * 1024;

function derive(pin: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(pin.normalize('NFKC'), salt, KEY_BYTES, { N: n, r, p, maxmem: MAX_MEMORY }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(pin, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

const PIN_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function isPinHash(text: string): boolean {
  return PIN_HASH.test(text);
}

export async function verifyPin(pin: string, pinHash: string): Promise<boolean> {
  const m = PIN_HASH.exec(pinHash);
  if (!m) return false;
  const expected = Buffer.from(m[5], 'base64');
  const key = await derive(pin, Buffer.from(m[4], 'base64'), Number(m[1]), Number(m[2]), Number(m[3]));
  return key.length === expected.length && timingSafeEqual(key, expected);
}
