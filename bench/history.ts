/**
 * The space history takes: `--saves` saves (default 10,000) of a 200 KB song where one section
 * changes each time, every one kept as a version (all within the last 24 hours: nothing is
 * thinned), against the space of that many full copies of the song. Also the time of a save with
 * its version against the same row written without history, measured in the same run.
 *
 *   npm run bench:history [-- --saves 10000] [-- --sections 50]
 *
 * In-process (the store, its repository and history, as the sidecar runs them): the transport
 * adds the same cost with or without history and is measured by bench:roundtrip.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { songs } from '../src/store/entities.js';
import { History } from '../src/store/history.js';
import { migrate } from '../src/store/migrations.js';
import { Repository, type Model } from '../src/store/repository.js';
import { Store } from '../src/store/store.js';
import { figure, QUICK, report } from './lib.js';

const { values } = parseArgs({ options: { saves: { type: 'string', default: QUICK ? '300' : '10000' }, sections: { type: 'string', default: '50' } } });
const SAVES = Number(values.saves);
const SECTIONS = Number(values.sections);
const SECTION_BYTES = 4096;

/** A section of about 4 KB: note events (about 34 bytes each), distinct per section. */
const section = (i: number, edit: number): Record<string, unknown> => {
  const notes: object[] = [];
  for (let j = 0; j < SECTION_BYTES / 34; j++) notes.push({ t: j * 0.25, p: 36 + ((i * 13 + j * 7) % 60), v: 64 + ((i + j) % 63), d: 0.25 });
  return { id: `section-${i}`, bars: 8, edit, notes };
};

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-history-'));
const fileBytes = (store: Store): number => {
  store.checkpoint();
  return statSync(store.path).size + (statSync(`${store.path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
};

try {
  const store = Store.open(join(dir, 'data.db'));
  await migrate(store.db, store.path, { backupDir: dir });
  const history = new History(store);
  store.onBeforeCommit(() => history.parts.collect());
  const repo = new Repository(store, songs, history.hooks);
  const sections = Array.from({ length: SECTIONS }, (_, i) => section(i, 0));
  const song = (): Model => ({
    id: 'bench-song',
    name: 'A 200 KB song',
    metadata: { tempo: 120, timeSignature: [4, 4], tags: ['bench'] },
    determinismSeed: '1',
    sections: [...sections],
    roles: [{ id: 'r', name: 'Bass', type: 'bass', generatorConfig: {}, parameters: {} }],
    projections: [],
    mixGraph: { tracks: [{ id: 't', name: 'T', volume: 1, pan: 0, mute: false, solo: false }] },
  });
  repo.save(song());
  const songBytes = JSON.stringify(repo.get('bench-song')).length;
  const before = fileBytes(store);

  // The baseline: the same row written without history (a second table of the same file shape).
  const plain = Store.open(join(dir, 'plain.db'));
  await migrate(plain.db, plain.path, { backupDir: dir });
  const plainRepo = new Repository(plain, songs);

  const withHistory: number[] = [];
  const without: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < SAVES; i++) {
    const k = i % SECTIONS;
    sections[k] = section(k, (sections[k]!.edit as number) + 1);
    const item = song();
    let t = performance.now();
    repo.save(item);
    withHistory.push(performance.now() - t);
    t = performance.now();
    plainRepo.save(item);
    without.push(performance.now() - t);
    if ((i + 1) % 1000 === 0) process.stderr.write(`  ${i + 1} saves, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  const after = fileBytes(store);
  const stats = history.stats();
  const tables = store.db
    .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 6")
    .all() as { name: string; bytes: number }[];
  const copies = songBytes * SAVES;
  const grown = after - before;
  const share = grown / copies;
  report({
    bench: 'history',
    setup: `${SAVES} saves of a ${(songBytes / 1024).toFixed(0)} KB song (${SECTIONS} sections), one section changed each time, every one kept; in-process; ` +
      `part store ${(stats.storedBytes / 1e6).toFixed(1)} MB stored for ${(stats.textBytes / 1e6).toFixed(1)} MB of text in ${stats.parts} nodes; ` +
      `largest: ${tables.map((t) => `${t.name} ${(t.bytes / 1e6).toFixed(1)} MB`).join(', ')}`,
    figures: [
      { name: `data.db growth for ${SAVES} versions`, unit: 'MB', median: grown / 1e6 },
      { name: `${SAVES} full copies of the song`, unit: 'MB', median: copies / 1e6 },
      { name: 'growth as a share of the full copies', unit: 'x', median: share, ratio: share, baseline: 'full copies', goal: '< 0.05x (5%)', met: share < 0.05 },
      figure('save with its version', 'ms', withHistory, { baseline: 'the same save without history', samples: without }),
    ],
  });
  store.close();
  plain.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
