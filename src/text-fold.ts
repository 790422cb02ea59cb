/**
 * Folding text the way people read it, for the two places where the store compares names rather
 * than bytes: the order of `orderBy: "name"` (a stored sort key) and full-text search (folded text
 * in the index, and the query folded the same way).
 *
 * SQLite's unicode61 tokenizer already ignores case and the diacritics that Unicode decomposes
 * (é = e + ◌́). It cannot fold the letters that Unicode does not decompose: ł, ø, đ, ħ, ß, æ, œ, þ …
 * Those are folded with Apache Lucene's ASCII folding filter (the `asciifolding` of Elasticsearch and
 * Solr, here through the fold-to-ascii port): a table of about 1,300 Latin letters, ligatures,
 * digits and symbols with their ASCII equivalents. Letters of other scripts are left as they are.
 *
 * The sort key also drops diacritics (after a compatibility decomposition, NFKD), ignores case,
 * drops characters that show nothing (zero-width spaces, joiners), and compares runs of digits of
 * any script by their value ("Take 2" before "Take 10", "٣" as 3), as the Finder does.
 *
 * Both depend on this code and on the Unicode tables of the running Node (normalisation and
 * lower-casing): FOLD_VERSION names both, and the store recomputes every stored key when it
 * changes (src/store/derived.ts).
 */
import asciiFolder from 'fold-to-ascii';

/** Changes when the folding below, its table, or the runtime's Unicode version changes. */
export const FOLD_VERSION = `2/lucene-asciifolding/unicode-${process.versions.unicode ?? 'unknown'}`;

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Text with every letter that Unicode does not decompose folded to its ASCII equivalent (Łódź ->
 * Lodz, Øresund -> Oresund, Süß -> Suss, Æon -> AEon). Case and decomposable diacritics are kept:
 * the tokenizer ignores them. Other scripts are unchanged.
 */
export function foldForSearch(text: string): string {
  return ASCII.test(text) ? text : asciiFolder.foldMaintaining(text);
}

/** Combining diacritical marks (the blocks of marks that accents decompose into). */
const DIACRITICS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
/** Decimal digits of any script (٣, ३, ３ …): compared by value like 0-9. */
const DIGITS = /\p{Nd}+/gu;
const IS_DIGIT = /^\p{Nd}$/u;
/** Characters that show nothing (zero-width space, joiners, soft hyphen, variation selectors …). */
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The value 0-9 of a decimal digit of any script. Unicode puts each script's digits in runs of
 * ten, 0 to 9 (some runs back to back): the count of digits before it in its run, modulo ten.
 */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (start > 0 && IS_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/**
 * A number's digits as a key that sorts by value: the count of its digits (leading zeros
 * dropped) first, then the digits. Up to 8 digits the count is one digit; longer numbers have
 * "9" and a 4-digit count, so they sort after every shorter one.
 */
function numberKey(run: string): string {
  const d = Array.from(run, (ch) => String(digitValue(ch))).join('').replace(/^0+(?=\d)/, '');
  return d.length <= 8 ? `${d.length}${d}` : `9${String(d.length).padStart(4, '0')}${d}`;
}

/**
 * The key `orderBy: "name"` sorts by (binary order of keys): case, diacritics, compatibility forms
 * (ﬁ, full-width letters) and the letters above folded, leading and trailing white space ignored,
 * numbers by value. "Émile", "emile" and "EMILE" have one key; so do "Ñandu" and "nandu", in NFC
 * and NFD alike.
 */
export function nameSortKey(name: string): string {
  let s = name.normalize('NFKD').replace(DIACRITICS, '').replace(IGNORABLE, '');
  s = foldForSearch(s).toLowerCase().replace(/ς/g, 'σ').trim();
  return s.replace(DIGITS, numberKey);
}
