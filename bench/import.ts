/**
 * npm run bench:import [-- --quick]: hashes per second from a file into the
 * embedded store, the indexes loaded and learning every hash. A
 * python-threatexchange file of random PDQ hashes is imported into an empty
 * bank; the baseline, measured in the same run, is reading the same file's
 * records without storing them. Also measured: the time until the last hash
 * is matchable (the index thread has applied the import's writes). Last line:
 * one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { readRecords } from '../src/exchange/index.js';
import { queryFromHashes } from '../src/match/query.js';
import { Services } from '../src/services/services.js';

const quick = process.argv.includes('--quick');
const count = quick ? 200_000 : 1_000_000;
const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

const dir = mkdtempSync(join(tmpdir(), 'ncii-bench-import-'));
try {
  const file = join(dir, 'hashes.txt');
  const pool = randomBytes(count * 32).toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`pdq ${pool.slice(i * 64, i * 64 + 64)}\n`);
  writeFileSync(file, lines.join(''));
  console.log(`${count} hashes, ${(statSync(file).size / 1e6).toFixed(1)} MB`);

  let started = performance.now();
  let cpu = process.cpuUsage();
  let read = 0;
  for await (const item of readRecords('te-file', createReadStream(file))) if ('record' in item) read++;
  const parseSeconds = (performance.now() - started) / 1000;
  const parseCpu = cpuSeconds(cpu);
  console.log(`read only: ${round(read / parseSeconds)} hashes/s`);

  const services = new Services(loadConfig({ DATA_DIR: join(dir, 'data') }), { error: (d, m) => console.error(m, d) });
  try {
    await services.loadIndexes();
    const bank = services.banks.create({ name: 'bench' });
    started = performance.now();
    cpu = process.cpuUsage();
    const report = await services.exchange.importToBank(bank.id, createReadStream(file), { format: 'te-file' });
    const importSeconds = (performance.now() - started) / 1000;
    const importCpu = cpuSeconds(cpu);
    const perSecond = report.signalsAdded / importSeconds;
    console.log(`import: ${round(perSecond)} hashes/s (${report.added} added in ${importSeconds.toFixed(2)} s)`);
    // The index learned them: a hash from the middle of the file matches. The search waits until the index has applied the import's last write.
    const probe = pool.slice((count >> 1) * 64, (count >> 1) * 64 + 64);
    const answer = await services.matcher.matchContent(queryFromHashes([{ type: 'pdq', hash: probe }], { banks: [bank.id] }, 'signals', 'client'));
    const matchableSeconds = (performance.now() - started) / 1000;
    const matchableCpu = cpuSeconds(cpu);
    const summary = {
      bench: 'import',
      quick,
      hashes: count,
      added: report.added,
      importHashesPerSecond: round(perSecond),
      readOnlyHashesPerSecond: round(read / parseSeconds),
      importToReadRatio: round(perSecond / (read / parseSeconds), 3),
      importHashesPerCpuSecond: round(report.signalsAdded / importCpu),
      readOnlyHashesPerCpuSecond: round(read / parseCpu),
      // Both per CPU second: steadier than wall clock on a machine other jobs load.
      importToReadCpuRatio: round(report.signalsAdded / importCpu / (read / parseCpu), 3),
      // Until the last hash is matchable: the index thread has learned them all and rebuilt its tables.
      untilMatchableHashesPerSecond: round(report.signalsAdded / matchableSeconds),
      untilMatchableHashesPerCpuSecond: round(report.signalsAdded / matchableCpu),
      meetsTarget: perSecond >= 100_000,
      meetsTargetPerCpuSecond: report.signalsAdded / importCpu >= 100_000,
      loadAverage: round(loadavg()[0], 1),
      indexFindsImported: answer.matches.length === 1,
    };
    console.log(JSON.stringify(summary));
  } finally {
    services.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
