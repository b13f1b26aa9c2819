/**
 * The layers of docs/architecture.md, checked in CI (npm run lint:deps).
 * A pure core (hashing, robust, the query module) that runs in a browser too,
 * I/O at the edges, and routes that reach everything through services.
 */
const layer = (name, path, allowed) => ({
  name: `layer-${name}`,
  comment: `${path} may import only ${allowed.join(', ') || 'itself'}`,
  severity: 'error',
  from: { path: `^src/${path}/` },
  to: { path: '^src/', pathNot: [`^src/${path}/`, ...allowed.map((a) => `^src/${a}`)] },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    layer('hashing', 'hashing', []),
    layer('robust', 'robust', ['hashing/']),
    layer('index', 'index', ['hashing/']),
    layer('image', 'image', ['hashing/', 'robust/']),
    layer('store', 'store', ['hashing/']),
    layer('match', 'match', ['hashing/', 'robust/', 'index/', 'store/']),
    layer('batches', 'batches', ['hashing/', 'match/', 'store/', 'image/errors']),
    layer('webhooks', 'webhooks', ['store/']),
    layer('scans', 'scans', ['hashing/', 'match/', 'store/']),
    // The browser page: the hashing core and the query module, nothing of the server.
    layer('web', 'web', ['hashing/', 'robust/', 'match/query\\.ts$']),
    layer('evidence', 'evidence', ['store/audit-chain']),
    layer('exchange', 'exchange', ['hashing/', 'store/store']),
    layer('services', 'services', ['hashing/', 'robust/', 'image/', 'index/', 'store/', 'evidence/', 'exchange/', 'match/', 'batches/', 'scans/', 'webhooks/', 'config']),
    {
      name: 'routes-through-services',
      comment: 'A route declares its schema and calls a service: it reaches the store, the signals and the matcher only through src/services.',
      severity: 'error',
      from: { path: '^src/api/routes/' },
      to: { path: '^src/', pathNot: ['^src/api/', '^src/services/'] },
    },
    {
      name: 'api-not-store',
      comment: 'The API reaches the store through services (its error classes excepted, which the error handler maps).',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/store/', pathNot: ['^src/store/errors'] },
    },
    {
      name: 'cli-through-factory',
      comment: 'The command line talks to the app only through its factory (src/server.ts) and config; no route, plugin or store of its own.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/(api|store|batches)/' },
    },
    {
      name: 'browser-core-no-node',
      comment: 'The browser page (src/web) and the core it loads (hashing, robust, the query module) use no Node built-in.',
      severity: 'error',
      from: { path: '^src/(hashing|robust|web)/|^src/match/query\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|coverage|node_modules)/' },
  },
};
