/**
 * A case's credentials, StopNCII-style and without an account.
 *
 * - Case number: 12 characters from an alphabet without look-alikes (no 0/O,
 *   1/I/L, U), shown in groups of four ("7KQM-X2HD-9WTP"); about 59 random
 *   bits, so numbers cannot be guessed. Typed either case, with or without
 *   the dashes or spaces.
 * - PIN: 12 random digits (about 40 bits; digits are easy to type on any
 *   phone keyboard and to read aloud), shown in groups of four and typed with
 *   or without the dashes, stored only as a scrypt hash.
 */
import { randomInt } from 'node:crypto';

/** Without 0/O, 1/I/L and U, so a number read aloud or copied by hand survives. */
const CASE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const CASE_LENGTH = 12;
const PIN_DIGITS = 12;

export function newCaseNumber(): string {
  let raw = '';
  for (let i = 0; i < CASE_LENGTH; i++) raw += CASE_ALPHABET[randomInt(CASE_ALPHABET.length)];
  return formatCaseNumber(raw);
}

function formatCaseNumber(raw: string): string {
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
}

/** The stored form of a typed case number, or null if it cannot be one. */
export function normalizeCaseNumber(typed: string): string | null {
  const raw = typed.toUpperCase().replace(/[\s-]/g, '');
  if (raw.length !== CASE_LENGTH || [...raw].some((c) => !CASE_ALPHABET.includes(c))) return null;
  return formatCaseNumber(raw);
}

/** 12 digits in groups of four, e.g. "0482-7715-3309". */
export function newPin(): string {
  let digits = '';
  for (let i = 0; i < PIN_DIGITS; i++) digits += String(randomInt(10));
  return digits.match(/\d{4}/g)!.join('-');
}

/** A PIN as hashed and checked: typed with or without dashes and spaces. */
export function normalizePin(typed: string): string {
  return typed.replace(/[\s-]/g, '');
}
