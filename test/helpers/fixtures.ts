/** Test data: songs that satisfy the schema, with structured parts carrying unknown fields. */
import { randomUUID } from 'node:crypto';

let counter = 0;

/** A complete song, overridable field by field. Every structured part carries fields no schema knows. */
export function makeSong(overrides: Record<string, unknown> = {}): Record<string, any> {
  counter++;
  return {
    id: `song-${counter}-${randomUUID()}`,
    name: `Song ${counter}`,
    metadata: {
      tempo: 120,
      timeSignature: [4, 4],
      tags: ['test'],
      key: 'C major',
      composer: 'Test Composer',
      genre: 'jazz',
      mood: 'calm',
      comments: 'a comment',
      difficulty: 'intermediate',
      rating: 4,
      duration: 183.5,
    },
    determinismSeed: 'seed-1',
    realizationPolicy: { mode: 'deterministic', futureKnob: { nested: [1, 2, { deep: true }] } },
    sections: [{ id: 'intro', bars: 8, unknownToday: { a: [null, 1.5, 'x'] } }],
    roles: [
      {
        id: 'bass',
        name: 'Bass',
        type: 'bass',
        generatorConfig: { algorithm: 'walking', extra: { z: 1 } },
        parameters: { density: 0.5 },
        enabled: true,
        color: '#FF8800',
        icon: 'guitars',
        notInSchema: 'kept',
      },
    ],
    projections: [{ id: 'p1', kind: 'score', opaque: { v: 2 } }],
    mixGraph: {
      tracks: [
        {
          id: 't1',
          name: 'Bass',
          volume: 0.8,
          pan: -0.25,
          mute: false,
          solo: false,
          instrumentId: 'inst-1',
          voiceId: 'voice-1',
          presetId: 'preset-1',
          midiChannel: 2,
          midiProgram: 33,
          additionalParameters: { drive: 0.3, chain: ['eq', 'comp'] },
          futureTrackField: { x: 1 },
        },
      ],
      buses: [{ id: 'b1', sends: [] }],
    },
    ...overrides,
  };
}
