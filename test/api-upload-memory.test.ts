/**
 * Uploads held in memory by all requests together are bounded
 * (MAX_UPLOAD_MEMORY_BYTES): past the bound an upload gets 503 OVERLOADED,
 * and every request gives its share back however it ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { UploadMemory } from '../src/api/uploads.js';
import { loadConfig } from '../src/config.js';
import { multipartBody } from './helpers/form-data.js';
import { GOOD_JPEG } from './helpers/hostile-inputs.js';

const MB = 1024 * 1024;

t.test('the budget: reserve, give back what a file did not use, release the rest', async (t) => {
  const memory = new UploadMemory(10, 4);
  const a = {} as FastifyRequest;
  const b = {} as FastifyRequest;
  t.ok(memory.reserve(a, 4));
  t.ok(memory.reserve(b, 4));
  t.notOk(memory.reserve(a, 4), 'a third file would pass the bound');
  t.equal(memory.heldBytes, 8, 'a refused reservation holds nothing');
  memory.giveBack(a, 3);
  t.ok(memory.reserve(a, 4), 'what a file did not use is free again');
  memory.giveBack(b, 100);
  t.equal(memory.heldBytes, 5, 'no request gives back more than it holds');
  memory.release(a);
  memory.release(a);
  t.equal(memory.heldBytes, 0, 'released once, whatever happens after');
});

t.test('a budget smaller than one image is refused at start', async (t) => {
  t.throws(() => loadConfig({ MAX_IMAGE_BYTES: String(2 * MB), MAX_UPLOAD_MEMORY_BYTES: String(MB) }), /MAX_UPLOAD_MEMORY_BYTES .* must be at least MAX_IMAGE_BYTES/);
});

t.test('past the bound an upload gets 503, and a request that ends early gives its share back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-upload-memory-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: dir, MAX_IMAGE_BYTES: String(MB), MAX_UPLOAD_MEMORY_BYTES: String(1.5 * MB), ANONYMOUS_REQUESTS_PER_MINUTE: '10000' }),
    logger: false,
  });
  t.teardown(() => app.close());
  const address = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
  const hash = () => app.inject({ method: 'POST', url: '/v1/hash', ...multipartBody([{ name: 'image', filename: 'a.jpg', type: 'image/jpeg', data: GOOD_JPEG }]) });
  const until = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    t.ok(done(), what);
  };

  t.equal((await hash()).statusCode, 200);
  t.equal(app.uploadMemory.heldBytes, 0, 'an answered request holds nothing');

  // An upload that stops mid-file holds its reservation (one image's worth) while it waits.
  const { payload, headers } = multipartBody([{ name: 'image', filename: 'a.jpg', type: 'image/jpeg', data: GOOD_JPEG }]);
  const slow = connect(Number(address.port), address.hostname);
  slow.on('error', () => {});
  slow.write(`POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Type: ${headers['content-type']}\r\nContent-Length: ${payload.length}\r\n\r\n`);
  slow.write(payload.subarray(0, 400));
  await until('the stalled upload holds one image’s worth', () => app.uploadMemory.heldBytes === MB);

  const refused = await hash();
  t.equal(refused.statusCode, 503);
  t.equal(refused.json().error.code, 'OVERLOADED');
  t.equal(refused.headers['retry-after'], '10');
  t.equal(app.uploadMemory.heldBytes, MB, 'the refused request holds nothing');

  slow.destroy();
  await until('a client that hangs up gives its share back', () => app.uploadMemory.heldBytes === 0);
  t.equal((await hash()).statusCode, 200, 'uploads are taken again');

  // Requests refused for other reasons give their share back too.
  const tooMany = await app.inject({
    method: 'POST',
    url: '/v1/hash',
    ...multipartBody([
      { name: 'image', filename: 'a.jpg', type: 'image/jpeg', data: GOOD_JPEG },
      { name: 'image', filename: 'b.jpg', type: 'image/jpeg', data: GOOD_JPEG },
    ]),
  });
  t.equal(tooMany.statusCode, 413);
  const corrupt = await app.inject({ method: 'POST', url: '/v1/hash', ...multipartBody([{ name: 'image', filename: 'a.jpg', type: 'image/jpeg', data: GOOD_JPEG.subarray(0, 300) }]) });
  t.equal(corrupt.statusCode, 422);
  t.equal(app.uploadMemory.heldBytes, 0);
});
