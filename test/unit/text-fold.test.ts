/** src/text-fold.ts: the name sort key and the search folding, by example and by property. */
import { expect } from 'chai';
import fc from 'fast-check';
import { foldForSearch, nameSortKey } from '../../src/text-fold.js';

const sortByKey = (names: string[]): string[] => [...names].sort((a, b) => (nameSortKey(a) < nameSortKey(b) ? -1 : nameSortKey(a) > nameSortKey(b) ? 1 : 0));

describe('nameSortKey', () => {
  it('gives one key to a name in any case, with or without accents, in NFC and NFD', () => {
    for (const group of [
      ['Émile', 'emile', 'EMILE', 'E\u0301mile', 'émile'],
      ['Ñandu', 'nandu', 'N\u0303andu'],
      ['Łódź', 'lodz', 'LODZ'],
      ['Straße', 'STRASSE', 'strasse', 'STRAẞE'],
      ['Æon', 'aeon'],
      ['ﬁne', 'fine', 'ＦＩＮＥ'],
      ['  padded ', 'padded'],
      ['\u200bZebra', 'zebra', 'Ze\u00adbra'],
      ['Take \u0663', 'Take 3', 'Take \u0969'],
      ['Σοφος', 'σοφοσ', 'ΣΟΦΟΣ', 'σοφος'],
    ]) {
      const keys = new Set(group.map(nameSortKey));
      expect(keys.size, group.join(' / ')).to.equal(1);
    }
  });

  it('orders numbers by value, leading zeros aside, long numbers after short ones', () => {
    expect(sortByKey(['Take 10', 'Take 2', 'Take 1', 'Take 007', 'Take 123456789', 'Take 99999999'])).to.deep.equal([
      'Take 1',
      'Take 2',
      'Take 007',
      'Take 10',
      'Take 99999999',
      'Take 123456789',
    ]);
  });

  it('puts punctuation and digits before letters, and Latin before other scripts', () => {
    expect(sortByKey(['zeta', 'Ωmega', '(intro)', '12 bar', 'Москва', 'alpha', '東京'])).to.deep.equal([
      '(intro)',
      '12 bar',
      'alpha',
      'zeta',
      'Ωmega',
      'Москва',
      '東京',
    ]);
  });

  it('sorts any two integers by value inside any name (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 30n }), (prefix, a, b) => {
        const base = prefix.replace(/\d/g, '');
        const ka = nameSortKey(`${base} ${a}`);
        const kb = nameSortKey(`${base} ${b}`);
        return a < b ? ka < kb : a > b ? ka > kb : ka === kb;
      }),
    );
  });

  it('does not depend on the normalisation form or the case of Latin text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
        const key = nameSortKey(s);
        return nameSortKey(s.normalize('NFD')) === key && nameSortKey(s.normalize('NFC')) === key;
      }),
    );
  });
});

describe('foldForSearch', () => {
  it('folds the letters Unicode does not decompose, and keeps case, accents it can decompose and other scripts to the tokenizer', () => {
    expect(foldForSearch('Łódź')).to.equal('Lodz');
    expect(foldForSearch('Øresund')).to.equal('Oresund');
    expect(foldForSearch('Süß')).to.equal('Suss');
    expect(foldForSearch('Æther Œuvre Đorđe Þórr')).to.equal('AEther OEuvre Dorde THorr');
    expect(foldForSearch('Москва 東京')).to.equal('Москва 東京');
    expect(foldForSearch('plain ascii')).to.equal('plain ascii');
  });
});
