/**
 * instruments.usage at scale: 10,000 songs whose mix graphs have 16 tracks each (instrument, voice
 * and preset ids, plugin parameters) and 20 KB of sections, and one performance per song with an
 * instrumentation map of 4 roles. Times X.usage in-process (the store's SQL, no transport) for
 * an instrument many songs use, one few use, one nobody uses; medians of 9 calls each.
 *
 *   npm run bench:usage [-- --songs 10000]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Store } from '../src/store/store.js';
import { migrate } from '../src/store/migrations.js';
import { Repository } from '../src/store/repository.js';
import { performances, songs } from '../src/store/entities.js';
import { References, type ReferenceField } from '../src/store/usage.js';
import { benchSong, figure, QUICK, report, type Figure } from './lib.js';

const { values } = parseArgs({ options: { songs: { type: 'string', default: QUICK ? '2000' : '10000' } } });
const SONGS = Number(values.songs);
const INSTRUMENTS = 40;
const TRACKS = 16;

const dir = mkdtempSync(join(tmpdir(), 'wr-bench-usage-'));
try {
  mkdirSync(join(dir, 'backups'));
  const store = Store.open(join(dir, 'data.db'));
  await migrate(store.db, join(dir, 'data.db'), { backupDir: join(dir, 'backups') });
  const songRepo = new Repository(store, songs);
  const perfRepo = new Repository(store, performances);
  // Instrument i is used by songs whose number is a multiple of (i + 1): 0 by every song, 39 by 1 in 40.
  const instrumentOf = (song: number, track: number): string => {
    const i = (song + track * 7) % INSTRUMENTS;
    return `inst-${i}`;
  };
  const t0 = performance.now();
  for (let start = 0; start < SONGS; start += 500) {
    const batch = [];
    for (let s = start; s < Math.min(SONGS, start + 500); s++) {
      const song = benchSong(`S${s}`, 20_000) as Record<string, any>;
      song.name = `Song ${String(s).padStart(5, '0')}`;
      song.mixGraph = {
        tracks: Array.from({ length: TRACKS }, (_, t) => ({
          id: `t${t}`, name: `Track ${t}`, volume: 0.8, pan: 0, mute: false, solo: false,
          instrumentId: instrumentOf(s, t), voiceId: `voice-${instrumentOf(s, t)}-${t % 4}`, presetId: `preset-${(s * 31 + t) % 997}`,
          midiChannel: 1 + (t % 16), additionalParameters: { drive: 0.3, chain: ['eq', 'comp', 'reverb'], state: 'x'.repeat(120) },
        })),
        buses: [{ id: 'main', sends: [] }],
      };
      batch.push(song);
    }
    songRepo.saveMany(batch);
    perfRepo.saveMany(batch.map((song) => ({
      id: `P-${song.id}`, songId: song.id, name: `Live ${song.name}`, arrangementStyle: 'ROCK_BAND', mixTargets: {},
      instrumentationMap: Object.fromEntries(['lead', 'bass', 'keys', 'drums'].map((role, k) => [role, { instrumentId: song.mixGraph.tracks[k].instrumentId, presetId: song.mixGraph.tracks[k].presetId, parameters: {} }])),
    })));
  }
  const fileMiB = (store.db.pragma('page_count', { simple: true }) as number) * 4096 / 2 ** 20;
  const setup = `${SONGS} songs (${TRACKS} tracks each) and ${SONGS} performances, written in ${((performance.now() - t0) / 1000).toFixed(1)} s; file ${fileMiB.toFixed(0)} MiB; in-process, 9 calls each`;
  const figures: Figure[] = [];

  const refs = new References(store);
  const time = (field: ReferenceField, id: string): void => {
    const ms: number[] = [];
    let answer = refs.usage(field, id);
    for (let i = 0; i < 9; i++) {
      const a = performance.now();
      answer = refs.usage(field, id);
      ms.push(performance.now() - a);
    }
    figures.push(figure(`${field} ${id} (${answer.songCount} songs, ${answer.performanceCount} performances)`, 'ms', ms));
  };
  time('instrumentId', 'inst-0');
  time('instrumentId', 'inst-39');
  time('instrumentId', 'no-such-instrument');
  time('voiceId', 'voice-inst-3-1');
  time('presetId', 'preset-5');
  report({ bench: 'usage', setup, figures });
  store.db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
