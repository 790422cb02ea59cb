/**
 * The generic mapper between wire models and rows (src/store/entity.ts).
 */
import { expect } from 'chai';
import {
  codecs,
  columnsOf,
  field,
  fieldAt,
  fromRow,
  getPath,
  summaryColumns,
  summaryDroppedParts,
  toParams,
  type EntityDescriptor,
} from '../../src/store/entity.js';
import * as entities from '../../src/store/entities.js';
import { songs } from '../../src/store/entities.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A small descriptor exercising every codec, defaults, keepWhenAbsent and nesting. */
const widget: EntityDescriptor = {
  entity: 'widgets',
  table: 'widgets',
  fields: [
    field('name', 'name', codecs.text),
    field('size', 'size', codecs.integer, { default: 3 }),
    field('weight', 'weight', codecs.real),
    field('enabled', 'is_enabled', codecs.boolean, { default: true }),
    field('shape.ratio', ['ratio_num', 'ratio_den'], codecs.pair),
    field('shape.deep.label', 'label', codecs.text),
    field('payload', 'payload_json', codecs.json),
    field('tags', 'tags', codecs.json, { default: [] }),
    field('starred', 'starred', codecs.boolean, { default: false, keepWhenAbsent: true }),
    field('hits', 'hits', codecs.integer, { keepWhenAbsent: true }),
  ],
  filters: {},
  parents: {},
  timestamps: { created: true, updated: false },
};

/** The same without its pair field. */
const flat: EntityDescriptor = { ...widget, fields: widget.fields.filter((f) => f.path !== 'shape.ratio') };

describe('entity mapper: toParams', () => {
  it('absent optional fields are NULL columns, and fields with defaults get the default', () => {
    expect(toParams(flat, { name: 'w' })).to.deep.equal({
      name: 'w',
      size: 3,
      weight: null,
      is_enabled: 1,
      label: null,
      payload_json: null,
      tags: '[]',
      starred: 0,
      keep_starred: null,
      hits: null,
      keep_hits: null,
    });
  });

  it('an absent pair field without a default is two NULL columns', () => {
    const params = toParams(widget, { name: 'w' });
    expect(params.ratio_num).to.equal(null);
    expect(params.ratio_den).to.equal(null);
    const back = fromRow(widget, { ...params, id: 'w', created_at: 1, revision: 1 });
    expect(back).to.not.have.property('shape');
  });

  it('present fields are encoded by their codec, nested paths included', () => {
    const params = toParams(widget, {
      name: 'w',
      size: 0,
      weight: 1.5,
      enabled: false,
      shape: { ratio: [16, 9], deep: { label: 'L' } },
      payload: { a: [1, { b: null }], s: 'x' },
      tags: ['t1', 't2'],
      starred: true,
      hits: 0,
    });
    expect(params).to.deep.equal({
      name: 'w',
      size: 0,
      weight: 1.5,
      is_enabled: 0,
      ratio_num: 16,
      ratio_den: 9,
      label: 'L',
      payload_json: '{"a":[1,{"b":null}],"s":"x"}',
      tags: '["t1","t2"]',
      starred: 1,
      keep_starred: 1,
      hits: 0,
      keep_hits: 0,
    });
  });

  it('keepWhenAbsent fields carry NULL in keep_<column> when absent, so the stored value is kept', () => {
    const params = toParams(flat, { name: 'w', starred: false });
    expect(params.keep_starred).to.equal(0);
    expect(params.keep_hits).to.equal(null);
  });

  it('a path through a non-object is absent', () => {
    const params = toParams(flat, { name: 'w', shape: 'not an object' });
    expect(params.label).to.equal(null);
  });

  it('maps the songs descriptor to the songs table columns, absent fields taking the column defaults', () => {
    // What Store.columnDefaults('songs') reads from sql/0001 (checked in repository.test.ts).
    const defaults = { version: '1.0', tags: '[]', is_favorite: 0, play_count: 0 };
    const params = toParams(songs, {
      name: 'S',
      metadata: { tempo: 100, timeSignature: [6, 8], tags: ['a'], rating: 5 },
      determinismSeed: '7',
      sections: [],
      roles: [],
      projections: [],
      mixGraph: { tracks: [] },
    }, defaults);
    expect(params).to.include({
      name: 'S',
      version: '1.0',
      tempo: 100,
      time_signature_numerator: 6,
      time_signature_denominator: 8,
      tags: '["a"]',
      rating: 5,
      composer: null,
      duration_seconds: null,
      determinism_seed: '7',
      realization_policy_json: null,
      sections_json: '[]',
      mix_graph_json: '{"tracks":[]}',
      is_favorite: 0,
      keep_is_favorite: null,
      play_count: 0,
      keep_play_count: null,
      last_played_at: null,
      keep_last_played_at: null,
    });
  });
});

describe('entity mapper: fromRow', () => {
  const row = {
    id: 'w1',
    name: 'w',
    size: 3,
    weight: null,
    is_enabled: 1,
    ratio_num: null,
    ratio_den: null,
    label: null,
    payload_json: null,
    tags: '[]',
    starred: 0,
    hits: null,
    created_at: 1000,
    updated_at: 2000,
    revision: 4,
  };

  it('NULL columns are omitted from the model, not returned as null', () => {
    const model = fromRow(widget, row);
    expect(model).to.deep.equal({
      id: 'w1',
      name: 'w',
      size: 3,
      enabled: true,
      tags: [],
      starred: false,
      createdAt: 1000,
      revision: 4,
    });
    expect(model).to.not.have.any.keys('weight', 'shape', 'payload', 'hits', 'updatedAt');
  });

  it('nested paths build the intermediate objects; pair and json decode', () => {
    const model = fromRow(widget, {
      ...row,
      ratio_num: 3,
      ratio_den: 2,
      label: 'deep',
      payload_json: '{"x":[1,2,{"y":"z"}]}',
      hits: 9,
      weight: 0.25,
    });
    expect(model.shape).to.deep.equal({ ratio: [3, 2], deep: { label: 'deep' } });
    expect(model.payload).to.deep.equal({ x: [1, 2, { y: 'z' }] });
    expect(model.hits).to.equal(9);
    expect(model.weight).to.equal(0.25);
  });

  it('toParams then fromRow gives back the model (absent stays absent, JSON null stays null)', () => {
    const model = {
      name: 'round',
      size: 10,
      enabled: false,
      shape: { ratio: [7, 8] },
      payload: null,
      tags: ['x'],
      starred: true,
      hits: 2,
    };
    const params = toParams(widget, model);
    const back = fromRow(widget, { ...params, id: 'r', created_at: 1, revision: 1 });
    expect(back).to.deep.equal({ id: 'r', ...model, createdAt: 1, revision: 1 });
    expect(back).to.not.have.property('weight');
  });

  it('timestamps appear only when the descriptor has them', () => {
    const both = fromRow({ ...widget, timestamps: { created: true, updated: true } }, row);
    expect(both).to.include({ createdAt: 1000, updatedAt: 2000 });
    const none = fromRow({ ...widget, timestamps: { created: false, updated: false } }, row);
    expect(none).to.not.have.any.keys('createdAt', 'updatedAt');
    expect(none.revision).to.equal(4);
  });
});

describe('entity mapper: codecs', () => {
  it('boolean is stored as 1 / 0 and read back only as true for 1', () => {
    expect(codecs.boolean.toDb(true)).to.deep.equal([1]);
    expect(codecs.boolean.toDb(false)).to.deep.equal([0]);
    expect(codecs.boolean.fromDb([1])).to.equal(true);
    expect(codecs.boolean.fromDb([0])).to.equal(false);
    expect(codecs.boolean.fromDb([null])).to.equal(undefined);
  });

  it('pair takes two columns and is absent when the first is NULL', () => {
    expect(codecs.pair.width).to.equal(2);
    expect(codecs.pair.toDb([3, 4])).to.deep.equal([3, 4]);
    expect(codecs.pair.fromDb([3, 4])).to.deep.equal([3, 4]);
    expect(codecs.pair.fromDb([null, null])).to.equal(undefined);
  });

  it('json stores any JSON value verbatim as text', () => {
    for (const v of [{ a: 1 }, [1, 'two', null], 'str', 0, true, null]) {
      const [col] = codecs.json.toDb(v);
      expect(col).to.equal(JSON.stringify(v));
      expect(codecs.json.fromDb([col])).to.deep.equal(v);
    }
    expect(codecs.json.fromDb([null])).to.equal(undefined);
  });

  it('text, integer and real pass values through and read NULL as absent', () => {
    for (const c of [codecs.text, codecs.integer, codecs.real]) {
      expect(c.width).to.equal(1);
      expect(c.toDb('v')).to.deep.equal(['v']);
      expect(c.fromDb([0])).to.equal(0);
      expect(c.fromDb([''])).to.equal('');
      expect(c.fromDb([null])).to.equal(undefined);
    }
  });
});

describe('entity mapper: helpers', () => {
  it('field refuses a column count that does not match its codec', () => {
    expect(() => field('x', 'one', codecs.pair)).to.throw(/2 column/);
    expect(() => field('x', ['a', 'b'], codecs.text)).to.throw(/1 column/);
  });

  it('getPath reads dotted paths and answers undefined through missing or non-object parts', () => {
    const obj = { a: { b: { c: 5 } }, s: 'str', n: null };
    expect(getPath(obj, 'a.b.c')).to.equal(5);
    expect(getPath(obj, 'a.b')).to.deep.equal({ c: 5 });
    expect(getPath(obj, 'a.x.c')).to.equal(undefined);
    expect(getPath(obj, 's.length')).to.equal(undefined);
    expect(getPath(obj, 'n.x')).to.equal(undefined);
  });

  it('columnsOf lists every mapped column in field order; fieldAt finds a field or throws', () => {
    expect(columnsOf(widget)).to.deep.equal([
      'name',
      'size',
      'weight',
      'is_enabled',
      'ratio_num',
      'ratio_den',
      'label',
      'payload_json',
      'tags',
      'starred',
      'hits',
    ]);
    expect(fieldAt(widget, 'shape.ratio').columns).to.deep.equal(['ratio_num', 'ratio_den']);
    expect(() => fieldAt(widget, 'nope')).to.throw(/no field nope/);
  });
});

describe('summaries (view "summary") and their schemas', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'rpc-schema', 'definitions');
  const read = (name: string): any => JSON.parse(readFileSync(join(root, `${name}.json`), 'utf8'));
  const families: [EntityDescriptor, string][] = [
    [entities.songs, 'Song'],
    [entities.performances, 'Performance'],
    [entities.instruments, 'Instrument'],
    [entities.voices, 'Voice'],
    [entities.presets, 'Preset'],
  ];
  for (const [desc, name] of families) {
    it(`${name}Summary is ${name} without exactly the parts the ${desc.entity} summary leaves out`, () => {
      const dropped = summaryDroppedParts(desc).map((p) => p.path);
      // The record's fields (<Name>Fields), as the stored record narrows them (StoredSong's metadata).
      const stored = read(`Stored${name}`).allOf[1];
      const full = { properties: { ...read(`${name}Fields`).properties, ...stored.properties }, required: read(name).allOf[1].required as string[] };
      const storedRequired: string[] = stored.required;
      if (dropped.length === 0) {
        // Nothing to leave out (voices): the summary is the stored record, and no schema of its own.
        expect(existsSync(join(root, `${name}Summary.json`))).to.equal(false);
        return;
      }
      const summary = read(`${name}Summary`);
      expect(summary.additionalProperties).to.equal(false);
      expect(summary.properties).to.deep.equal(Object.fromEntries(Object.entries(full.properties).filter(([k]) => !dropped.includes(k))));
      expect([...summary.required].sort()).to.deep.equal([...new Set([...full.required, ...storedRequired])].filter((k) => !dropped.includes(k)).sort());
      // The columns a summary reads are the record's columns without the parts it leaves out.
      const droppedColumns = summaryDroppedParts(desc).map((p) => p.column);
      expect(summaryColumns(desc)).to.not.include.members(droppedColumns);
      expect(summaryColumns(desc)).to.include.members(columnsOf(desc).filter((c) => !droppedColumns.includes(c)));
    });
  }
});
