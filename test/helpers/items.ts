/**
 * Records of each recent item type, made through the process, for tests that need an item to
 * exist (recent.touch refuses an id that names nothing).
 */
import { makeSong } from './fixtures.js';
import type { StoreProcess } from './process.js';
import { ok } from './rpc.js';

/** The song, instrument and voice the performances, voices and presets made here hang from. */
const PARENT_SONG = 'items-parent-song';
const PARENT_INSTRUMENT = 'items-parent-instrument';

/** Saves a record of `itemType` with id `id` (and the parent it needs); answers the stored record. */
export async function saveItem(p: StoreProcess, itemType: string, id: string, name = id): Promise<any> {
  const parentSong = async (): Promise<void> => void (await ok(p, 'songs.save', { item: makeSong({ id: PARENT_SONG }) }));
  const parentInstrument = async (): Promise<void> =>
    void (await ok(p, 'instruments.save', { item: { id: PARENT_INSTRUMENT, name: 'Parent', type: 'synth' } }));
  switch (itemType) {
    case 'song':
      return ok(p, 'songs.save', { item: makeSong({ id, name }) });
    case 'performance':
      await parentSong();
      return ok(p, 'performances.save', { item: { id, songId: PARENT_SONG, name, arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} } });
    case 'instrument':
      return ok(p, 'instruments.save', { item: { id, name, type: 'synth' } });
    case 'voice':
      await parentInstrument();
      return ok(p, 'voices.save', { item: { id, instrumentId: PARENT_INSTRUMENT, name, number: 1 } });
    case 'preset':
      await parentInstrument();
      return ok(p, 'presets.save', { item: { id, instrumentId: PARENT_INSTRUMENT, name, parameters: {} } });
    default:
      throw new Error(`no such item type ${itemType}`);
  }
}
