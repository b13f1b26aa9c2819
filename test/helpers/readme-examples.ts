/**
 * The shell examples of a Markdown file and what it says they print, and the
 * comparison of that with what they really print.
 *
 * - Every ```sh block is an example, unless the line before it is an HTML
 *   comment `<!-- not run: why -->`.
 * - The first ```json or ```text block after an example (before the next
 *   ```sh block) is what the example prints on stdout.
 * - In a ```json block (one or more JSON values) the string "…" stands for
 *   any value; as an array's last element, for any further elements; as a key
 *   ("…": "…"), for any further keys. In a ```text block, … is any text.
 * - Values a reader cannot predict (case numbers, PINs, batch ids, API keys,
 *   times) match any value of the same form. The reader copies them into the
 *   later commands: so does `substitute`, with what the example really printed.
 */

export interface Example {
  /** 1-based line of the code in the Markdown file. */
  line: number;
  code: string;
  /** Why the example is not run, from its `<!-- not run: why -->` comment. */
  notRun: string | null;
  expected: { kind: 'json' | 'text'; text: string; line: number } | null;
}

const FENCE = /^```(\w*)\s*$/;
const NOT_RUN = /^<!--\s*not run:\s*(.+?)\s*-->$/;

export function parseExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const examples: Example[] = [];
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) {
      if (lines[i].trim() !== '') previous = lines[i].trim();
      continue;
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: a code block that never closes`);
    const text = lines.slice(start, end).join('\n');
    const language = open[1];
    if (language === 'sh') {
      examples.push({ line: start + 1, code: text, notRun: NOT_RUN.exec(previous)?.[1] ?? null, expected: null });
    } else if ((language === 'json' || language === 'text') && examples.length > 0 && examples.at(-1)!.expected === null) {
      examples.at(-1)!.expected = { kind: language, text, line: start + 1 };
    }
    previous = '```';
    i = end;
  }
  return examples;
}

/** Forms of values that differ on every run; `copied` ones are what a reader pastes into later commands. */
const GENERATED: { name: string; pattern: RegExp; copied: boolean }[] = [
  { name: 'time', pattern: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/, copied: false },
  { name: 'case number', pattern: /^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/, copied: true },
  { name: 'PIN', pattern: /^\d{4}-\d{4}-\d{4}$/, copied: true },
  { name: 'batch id', pattern: /^bat_[A-Za-z0-9_-]{22}$/, copied: true },
  { name: 'API key', pattern: /^nm_[A-Za-z0-9_-]{43}$/, copied: true },
];

const ANY = '…';

/** What the README showed for a generated value, and what the run printed instead. */
export type Copies = Map<string, string>;

function generatedForm(value: string) {
  return GENERATED.find((g) => g.pattern.test(value));
}

/** A generated value where `expected` shows one; the difference, if any. */
function compareGenerated(expected: string, actual: unknown, path: string, copies: Copies): string | null {
  const form = generatedForm(expected)!;
  if (typeof actual !== 'string' || !form.pattern.test(actual)) return `${path}: expected a ${form.name}, got ${JSON.stringify(actual)}`;
  if (!form.copied) return null;
  const before = copies.get(expected);
  if (before !== undefined && before !== actual) return `${path}: ${expected} stood for ${before} earlier, here for ${actual}`;
  copies.set(expected, actual);
  return null;
}

/** Differences between a value the README shows and one the example printed, under the conventions above. */
export function compareJson(expected: unknown, actual: unknown, path: string, copies: Copies): string[] {
  if (expected === ANY) return [];
  if (typeof expected === 'string' && generatedForm(expected)) {
    const difference = compareGenerated(expected, actual, path, copies);
    return difference ? [difference] : [];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    const open = expected.at(-1) === ANY;
    const shown = open ? expected.slice(0, -1) : expected;
    if (open ? actual.length < shown.length : actual.length !== shown.length) {
      return [`${path}: expected ${open ? 'at least ' : ''}${shown.length} elements, got ${actual.length}: ${JSON.stringify(actual)}`];
    }
    return shown.flatMap((e, i) => compareJson(e, actual[i], `${path}[${i}]`, copies));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    const open = ANY in expected;
    const shownKeys = Object.keys(expected).filter((k) => k !== ANY);
    const differences = shownKeys.flatMap((k) =>
      k in actual ? compareJson((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], `${path}.${k}`, copies) : [`${path}: no "${k}"`],
    );
    const extra = open ? [] : Object.keys(actual).filter((k) => !shownKeys.includes(k));
    return [...differences, ...extra.map((k) => `${path}: "${k}" is printed but not shown`)];
  }
  return Object.is(expected, actual) ? [] : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

/** The JSON values of a text, one after the other (pretty-printed over lines, or one per line). */
export function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0 && c.trim() !== '') {
      throw new Error(`not JSON at "${text.slice(i, i + 40)}"`);
    }
  }
  if (depth !== 0 || inString) throw new Error('JSON that never ends');
  return values;
}

/** Differences between a ```text block and what was printed: … is any text, generated values any of their form. */
export function compareText(expected: string, actual: string, copies: Copies): string[] {
  const tokens = expected.trim().split(/(…|[A-Za-z0-9_:.-]+)/);
  const generated: string[] = [];
  const source = tokens
    .map((token) => {
      if (token === ANY) return '[\\s\\S]*?';
      const form = generatedForm(token);
      if (!form) return token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      generated.push(token);
      // Named, because a form's own pattern may hold groups of its own (a time's fraction of a second).
      return `(?<g${generated.length - 1}>${form.pattern.source.slice(1, -1)})`;
    })
    .join('');
  const match = new RegExp(`^${source}$`).exec(actual.trim());
  if (!match) return [`expected:\n${expected.trim()}\ngot:\n${actual.trim()}`];
  return generated.flatMap((token, i) => {
    const difference = compareGenerated(token, match.groups?.[`g${i}`], `"${token}"`, copies);
    return difference ? [difference] : [];
  });
}

/** An example's code as the reader runs it: the values she copied from earlier output in place of the README's. */
export function substitute(code: string, copies: Copies): string {
  let result = code;
  for (const [shown, printed] of copies) result = result.split(shown).join(printed);
  return result;
}
