/**
 * A one-minute soak (bench/soak.ts) against the real process: no request fails, and neither the
 * sidecar's memory nor its WAL keeps growing. `npm run soak -- --minutes N` runs it longer.
 *
 * Growth is judged robustly against noise: the median RssAnon of the last quarter of the samples
 * against the second quarter's (the first quarter is warm-up), with a margin of 15% + 16 MiB; the
 * WAL against twice SQLite's automatic checkpoint threshold (WAL_AUTOCHECKPOINT_PAGES pages).
 */
import { expect } from 'chai';
import { growth, runSoak } from '../../bench/soak.js';
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/store/database.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 1);
const SEED = Number(process.env.SOAK_SEED ?? 11);
const PAGE_BYTES = 4096;

describe('soak: a mixed workload for a minute', function () {
  this.timeout(MINUTES * 60_000 + 60_000);

  it('answers every request, and neither memory nor the WAL keeps growing', async function () {
    if (process.platform !== 'linux') this.skip(); // RssAnon is read from /proc
    const report = await runSoak({ minutes: MINUTES, seed: SEED });
    const g = growth(report.samples, 2 * WAL_AUTOCHECKPOINT_PAGES * PAGE_BYTES);
    const l = report.latency['*']!;
    process.stderr.write(
      `      soak (seed ${SEED}): ${report.requests} requests, ${report.opsPerSec.toFixed(0)}/s, p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, ` +
        `max ${l.max.toFixed(0)} ms; RssAnon ${(g.rssSecondQuarterKiB / 1024).toFixed(1)} → ${(g.rssLastQuarterKiB / 1024).toFixed(1)} MiB; ` +
        `WAL max ${(g.walMaxBytes / 1048576).toFixed(1)} MiB\n`,
    );
    expect(report.errors, 'no request failed').to.deep.equal([]);
    expect(report.samples.length, 'samples taken').to.be.at.least(MINUTES * 40);
    expect(report.requests).to.be.greaterThan(1000);
    expect(g.rssGrowing, `RssAnon keeps growing: ${JSON.stringify(report.samples.map((s) => s.rssAnonKiB))}`).to.equal(false);
    expect(g.walTooLarge, `the WAL grew to ${g.walMaxBytes} bytes`).to.equal(false);
  });
});
