/** Expand the command line's files and directories into the list of files to hash. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Directories are walked recursively in name order, skipping hidden entries
 * (.DS_Store, .git), each directory once however many links lead to it (a
 * link to a parent made a loop). Anything else named, including paths that
 * do not exist or cannot be listed, is kept in place so its error is
 * reported in order.
 */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const walked = new Set<string>();
  const visit = async (path: string): Promise<void> => {
    let entries: string[];
    try {
      const stats = await stat(path);
      if (!stats.isDirectory()) throw new Error('not a directory');
      const id = `${stats.dev}:${stats.ino}`;
      if (walked.has(id)) return;
      walked.add(id);
      entries = await readdir(path);
    } catch {
      files.push(path);
      return;
    }
    for (const name of entries.filter((n) => !n.startsWith('.')).sort()) await visit(join(path, name));
  };
  for (const path of paths) await visit(path);
  return files;
}
