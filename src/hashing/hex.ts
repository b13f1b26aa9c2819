/** Hex only at the edges: hashes are bytes inside the service. */

export class InvalidHashError extends Error {
  readonly code = 'INVALID_HASH';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHashError';
  }
}

const HEX_DIGITS = '0123456789abcdef';
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, b) => HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15]);

/** Lower-case hex of the bytes, most significant byte first. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]];
  return out;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * Parse exactly `bits / 4` hex digits (either case). Anything else, including
 * whitespace, a 0x prefix or a wrong length, is rejected with a message a person
 * can act on.
 */
export function fromHex(text: unknown, bits: number, what = 'hash'): Uint8Array {
  const digits = bits / 4;
  if (typeof text !== 'string') {
    throw new InvalidHashError(`${what} must be a string of ${digits} hex characters`);
  }
  if (text.length !== digits) {
    throw new InvalidHashError(`${what} must be exactly ${digits} hex characters, got ${text.length}`);
  }
  const out = new Uint8Array(digits / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(text.charCodeAt(2 * i));
    const lo = nibble(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? 2 * i : 2 * i + 1;
      throw new InvalidHashError(`${what} has a character that is not hex at position ${at + 1}`);
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}
