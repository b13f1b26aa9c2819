/** MD5 of the original bytes: what StopNCII exchanges for exact copies (and for videos). */
import { createMD5 } from 'hash-wasm';
import { digestSignalType } from './digest.js';

export const md5 = digestSignalType('md5', 128, 'MD5 of the original file bytes (StopNCII exchanges it); matches exact copies only.', createMD5);
