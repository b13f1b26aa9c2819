/**
 * Values at chosen paths of a JSON document, each assembled on its own while
 * the document streams past (stream-json's tokenizer and assembler): a hash
 * list or a chat export of any size is read with one record in memory at a time.
 */
import { pipeline, type Readable } from 'node:stream';
import Assembler from 'stream-json/assembler.js';
import parser from 'stream-json/parser.js';

export type JsonPath = readonly (string | number)[];

type Frame = { kind: 'object'; key: string | null } | { kind: 'array'; index: number };

const VALUE_STARTS = new Set(['startObject', 'startArray', 'stringValue', 'numberValue', 'nullValue', 'trueValue', 'falseValue']);

function pathOf(stack: Frame[]): (string | number)[] {
  return stack.map((frame) => (frame.kind === 'object' ? (frame.key ?? '') : frame.index));
}

/** After a value ends inside an array, the next element has the next index. */
function advance(stack: Frame[]): void {
  const top = stack.at(-1);
  if (top?.kind === 'array') top.index++;
}

/**
 * Yields `{ path, value }` for every value whose path `wanted` accepts (and
 * nothing inside it). Values elsewhere are skipped token by token, never
 * assembled. A syntax error in the document is thrown.
 */
export async function* valuesAt(source: Readable, wanted: (path: JsonPath) => boolean): AsyncGenerator<{ path: JsonPath; value: unknown }> {
  const tokens = parser.asStream({ streamValues: false });
  pipeline(source, tokens, () => {});
  const stack: Frame[] = [];
  let assembling: { path: JsonPath; asm: Assembler } | null = null;
  for await (const token of tokens as AsyncIterable<parser.Token>) {
    if (assembling) {
      assembling.asm.consume(token);
      if (assembling.asm.done) {
        yield { path: assembling.path, value: assembling.asm.current };
        assembling = null;
        advance(stack);
      }
      continue;
    }
    if (token.name === 'keyValue') {
      (stack.at(-1) as { key: string | null }).key = token.value;
      continue;
    }
    if (VALUE_STARTS.has(token.name) && wanted(pathOf(stack))) {
      const asm = new Assembler();
      asm.consume(token);
      if (asm.done) {
        yield { path: pathOf(stack), value: asm.current };
        advance(stack);
      } else assembling = { path: pathOf(stack), asm };
      continue;
    }
    if (token.name === 'startObject') stack.push({ kind: 'object', key: null });
    else if (token.name === 'startArray') stack.push({ kind: 'array', index: 0 });
    else if (token.name === 'endObject' || token.name === 'endArray') {
      stack.pop();
      advance(stack);
    } else if (token.name !== 'whitespace') advance(stack);
  }
}
