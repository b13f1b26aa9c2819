/** SHA-256 of the original bytes: exact copies, with no practical chance of two files colliding. */
import { createSHA256 } from 'hash-wasm';
import { digestSignalType } from './digest.js';

export const sha256 = digestSignalType('sha256', 256, 'SHA-256 of the original file bytes; matches exact copies only.', createSHA256);
