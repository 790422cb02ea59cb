/** instruments.*, voices.*, presets.*: the instrument registry. */
import type { Services } from './services.js';
import type { FamilyHandlers, Params, Result } from './types.js';
import type { ReferenceField } from '../store/usage.js';
import { entityVerbs } from './entity-verbs.js';

/** `X.usage {id, limit?}`: one handler for the three families, told which field names them. */
const usage =
  (s: Services, field: ReferenceField) =>
  ({ id, limit }: Params<'instruments.usage'>): Result<'instruments.usage'> =>
    s.references.usage(field, id, limit);

export function instrumentsMethods(s: Services): FamilyHandlers<'instruments'> {
  return {
    ...(entityVerbs('instruments', s.instruments) as unknown as Omit<FamilyHandlers<'instruments'>, 'instruments.search' | 'instruments.usage'>),
    'instruments.search': ({ query, limit, cursor, view }) => s.instruments.search(query, { limit, cursor, view }) as Result<'instruments.search'>,
    'instruments.usage': usage(s, 'instrumentId'),
  };
}

export function voicesMethods(s: Services): FamilyHandlers<'voices'> {
  return {
    ...(entityVerbs('voices', s.voices) as unknown as Omit<FamilyHandlers<'voices'>, 'voices.usage'>),
    'voices.usage': usage(s, 'voiceId'),
  };
}

export function presetsMethods(s: Services): FamilyHandlers<'presets'> {
  return {
    ...(entityVerbs('presets', s.presets) as unknown as Omit<FamilyHandlers<'presets'>, 'presets.search' | 'presets.usage'>),
    'presets.search': ({ query, limit, cursor, view }) => s.presets.search(query, { limit, cursor, view }) as Result<'presets.search'>,
    'presets.usage': usage(s, 'presetId'),
  };
}
