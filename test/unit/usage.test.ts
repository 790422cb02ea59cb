/**
 * References.usage (src/store/usage.ts) on mix graphs a host may have written in any JSON
 * spelling: the quick text test before the JSON parse must never hide a song that names the id.
 */
import { expect } from 'chai';
import { songs } from '../../src/store/entities.js';
import { Repository } from '../../src/store/repository.js';
import { References } from '../../src/store/usage.js';
import { makeSong } from '../helpers/fixtures.js';
import { openTempStore, type TempStore } from '../helpers/unit-store.js';

describe('References.usage', () => {
  let t: TempStore;
  beforeEach(async () => {
    t = await openTempStore();
  });
  afterEach(() => t.cleanup());

  const track = (o: Record<string, unknown>): Record<string, unknown> => ({ id: 't', name: 'T', volume: 1, pan: 0, mute: false, solo: false, ...o });

  it('finds an id written with JSON escapes, or needing them, and only where a track names it', () => {
    const repo = new Repository(t.store, songs);
    const odd = 'in"st\\ü';
    repo.saveMany([
      makeSong({ id: 'plain', name: 'Plain', mixGraph: { tracks: [track({ instrumentId: 'inst-1' })] } }),
      makeSong({ id: 'escaped', name: 'Escaped', mixGraph: { tracks: [track({ instrumentId: 'inst-1' })] } }),
      makeSong({ id: 'odd', name: 'Odd', mixGraph: { tracks: [track({ instrumentId: odd })] } }),
      makeSong({ id: 'text', name: 'Text', mixGraph: { tracks: ['inst-1', track({ voiceId: 'inst-1' })], note: 'inst-1' } }),
    ]);
    // Another writer spelled the id with escapes: the text does not hold "inst-1" verbatim.
    t.store.db
      .prepare(`UPDATE songs SET mix_graph_json = ? WHERE id = 'escaped'`)
      .run('{"tracks":[{"id":"t","name":"T","volume":1,"pan":0,"mute":false,"solo":false,"instrumentId":"\\u0069nst-1"}]}');
    const refs = new References(t.store);
    expect(refs.usage('instrumentId', 'inst-1').songs.map((s) => s.id)).to.deep.equal(['escaped', 'plain']);
    expect(refs.usage('instrumentId', odd)).to.deep.include({ songs: [{ id: 'odd', name: 'Odd' }], songCount: 1 });
    expect(refs.usage('voiceId', 'inst-1').songs.map((s) => s.id)).to.deep.equal(['text']);
  });
});
