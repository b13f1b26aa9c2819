/**
 * Node arguments for a child process that runs TypeScript: the loader this
 * test process runs under, so the child's coverage is mapped to the same
 * sources (two loaders' transpiled code cannot be merged); tsx outside tap.
 */
const loaders = process.execArgv.filter((arg) => arg.startsWith('--import=') && arg.includes('@tapjs/typescript'));

export const TS_NODE_ARGS: readonly string[] = loaders.length > 0 ? [...loaders, '--enable-source-maps'] : ['--import', 'tsx'];
