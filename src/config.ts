/** Service settings from the environment, validated at start (a bad value stops the service with a clear message). */
import envSchema from 'env-schema';
import { type Static, Type } from 'typebox';

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'Address to listen on.' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'Port to listen on.' }),
  DATA_DIR: Type.String({ default: './data', minLength: 1, description: 'Where the SQLite database lives.' }),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], {
    default: 'info',
    description: 'Log level (logs never hold uploads, hashes looked up, keys, PINs or client addresses).',
  }),
  TRUST_PROXY: Type.String({
    default: 'false',
    pattern: '^(false|true|[1-9]|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$',
    description:
      'Where the client address comes from behind a reverse proxy you run: false (the connection), the number of proxies in front ' +
      '(1: the last X-Forwarded-For entry, the one your proxy added), or their addresses/CIDRs, comma-separated. true trusts every ' +
      "entry, i.e. takes the first, which a client can write itself: only for a proxy that replaces X-Forwarded-For.",
  }),
  MAX_IMAGE_BYTES: Type.Integer({ default: 25 * 1024 * 1024, minimum: 1024, description: 'Largest accepted image file.' }),
  MAX_IMAGE_PIXELS: Type.Integer({ default: 50_000_000, minimum: 10_000, description: 'Largest accepted width x height.' }),
  MAX_FILES_PER_REQUEST: Type.Integer({ default: 100, minimum: 1, maximum: 1000, description: 'Image files in one multipart request.' }),
  MAX_REQUEST_BYTES: Type.Integer({ default: 200 * 1024 * 1024, minimum: 1024, description: 'Largest request body, all files together.' }),
  MAX_UPLOAD_MEMORY_BYTES: Type.Integer({
    default: 1024 * 1024 * 1024,
    minimum: 1024,
    description: 'Uploads held in memory by all requests together; past it an upload gets 503 OVERLOADED. At least MAX_IMAGE_BYTES.',
  }),
  MAX_IMPORT_BYTES: Type.Integer({ default: 1024 * 1024 * 1024, minimum: 1024, description: 'Largest hash-list body POST /v1/banks/:id/import reads (it streams: this bounds time, not memory).' }),
  MAX_TELEGRAM_ZIP_BYTES: Type.Integer({ default: 512 * 1024 * 1024, minimum: 1024, description: 'Largest zipped Telegram export POST /v1/banks/:id/telegram takes (held in memory while it is read, never written).' }),
  DECODE_PATH: Type.Union([Type.Literal('fast'), Type.Literal('reference')], { default: 'fast', description: 'How uploads are decoded for hashing.' }),
  ANONYMOUS_REQUESTS_PER_MINUTE: Type.Integer({ default: 60, minimum: 1, description: 'Rate limit per client without a key.' }),
  KEYED_REQUESTS_PER_MINUTE: Type.Integer({ default: 1200, minimum: 1, description: 'Rate limit per API key.' }),
  PIN_ATTEMPTS_PER_HOUR: Type.Integer({ default: 5, minimum: 1, description: 'Wrong PINs allowed per case and client (IPv6: per /56); other cases stay open to that client.' }),
  PIN_ATTEMPTS_PER_CASE_PER_HOUR: Type.Integer({ default: 10_000, minimum: 1, description: 'Wrong PINs allowed per case, from all clients together.' }),
  PIN_UNKNOWN_CASE_ATTEMPTS_PER_HOUR: Type.Integer({ default: 20, minimum: 1, description: 'Tries per client with case numbers that do not exist (typos, or a spray of made-up numbers).' }),
  BATCH_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'Batch items processed at once.' }),
  BATCH_RESULT_TTL_HOURS: Type.Integer({ default: 7 * 24, minimum: 1, description: 'How long batch results are kept.' }),
  SCAN_LOCK_STALE_SECONDS: Type.Integer({
    default: 120,
    minimum: 1,
    description: "A scan's lock not renewed for this long is taken over by another runner (a runner on the same host that is gone is taken over at once).",
  }),
  INDEX_SNAPSHOT_MIN_SIGNALS: Type.Integer({
    default: 1_000_000,
    minimum: -1,
    description:
      'When a start would read at least this many captured-content signals (added, or removed) from the database beyond the last snapshot, ' +
      'a snapshot of the content index is written to DATA_DIR/content-index.snapshot (checked after each start and every 10 minutes); ' +
      'starts load it and read only what changed since (never victims\' hashes). -1 turns snapshots off.',
  }),
  SCANS_ENABLED: Type.Boolean({ default: true, description: 'Whether this process runs scans on their schedules and resumes interrupted runs.' }),
  METRICS_PORT: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 65535,
    description: 'When not 0, GET /metrics is also served on this port without a key (on the API port it needs an admin key); bind it to your monitoring network only.',
  }),
  METRICS_HOST: Type.String({ default: '127.0.0.1', description: 'Address the metrics listener (METRICS_PORT) listens on.' }),
  WEBHOOK_ALLOW_HOSTS: Type.String({
    default: '',
    description:
      'Comma-separated host names (or IP addresses) webhooks may reach even though they are loopback, private or link-local ' +
      '(e.g. a receiver on your own network). Every other webhook must resolve to public addresses only.',
  }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ default: 8, minimum: 1, maximum: 30, description: 'Attempts per webhook delivery before it is marked failed.' }),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ default: 30_000, minimum: 1, description: 'Pause after a failed webhook attempt; it doubles after each further failure.' }),
  WEBHOOK_RETRY_MAX_MS: Type.Integer({ default: 3_600_000, minimum: 1, description: 'Longest pause between webhook attempts.' }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'How long one webhook attempt may take, connecting included.' }),
  WEBHOOK_LOG_DAYS: Type.Integer({ default: 30, minimum: 1, description: 'Days delivered and failed webhook deliveries stay in the delivery log.' }),
  WEB_DIR: Type.String({
    default: '',
    description: "Where the built web page is (npm run build writes it to dist/public); empty: the package's own dist/public. See docs/web.md.",
  }),
  HELP_RESOURCES_FILE: Type.String({
    default: '',
    description: 'A JSON file of the help the victim page offers per country (helplines, legal aid, where to report); empty: the built-in international list. See docs/web.md.',
  }),
  EVIDENCE_SIGNING_KEY_FILE: Type.String({
    default: '',
    description:
      'Ed25519 private key (PKCS#8 PEM) that signs evidence packages. Empty: one is created at first start as DATA_DIR/evidence-signing-key.pem (mode 0600) and replaced by `ncii-match keys rotate-signing`.',
  }),
  SERVER_TIMING: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 1,
    description: '1: image lookups (POST /v1/match with an image) answer a Server-Timing header with the milliseconds spent decoding, hashing the whole image, hashing regions and searching.',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 1000, minimum: 10, description: 'Event-loop delay above which requests get 503 OVERLOADED.' }),
});

export type Config = Static<typeof ConfigSchema>;

/** TRUST_PROXY as Fastify's trustProxy option takes it; a hop count as a function of the hop (its types leave numbers out). */
export function trustProxySetting(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  if (value === 'false' || value === 'true') return value === 'true';
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value;
}

/** Reads and validates the environment (or the given object, for tests); throws listing every bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = envSchema<Config>({ schema: ConfigSchema, data: env, dotenv: false });
  // Each file being read reserves MAX_IMAGE_BYTES: a smaller budget would refuse every upload.
  if (config.MAX_UPLOAD_MEMORY_BYTES < config.MAX_IMAGE_BYTES) {
    throw new Error(`MAX_UPLOAD_MEMORY_BYTES (${config.MAX_UPLOAD_MEMORY_BYTES}) must be at least MAX_IMAGE_BYTES (${config.MAX_IMAGE_BYTES})`);
  }
  return config;
}

/** Every setting with its default and description, for docs/settings.md and `--help`. */
export function describeSettings(): { name: string; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]) => ({
    name,
    default: (schema as { default?: unknown }).default,
    description: (schema as { description?: string }).description ?? '',
  }));
}
