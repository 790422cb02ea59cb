/** instruments.*, voices.*, presets.*: the instrument registry. */
import type { Services } from './services.js';
import type { FamilyHandlers } from './types.js';
import { entityVerbs } from './entity-verbs.js';

export function instrumentsMethods(s: Services): FamilyHandlers<'instruments'> {
  return {
    ...(entityVerbs('instruments', s.instruments) as unknown as Omit<FamilyHandlers<'instruments'>, 'instruments.search'>),
    'instruments.search': ({ query, limit }) => ({ items: s.instruments.search(query, limit) }),
  };
}

export function voicesMethods(s: Services): FamilyHandlers<'voices'> {
  return entityVerbs('voices', s.voices) as unknown as FamilyHandlers<'voices'>;
}

export function presetsMethods(s: Services): FamilyHandlers<'presets'> {
  return {
    ...(entityVerbs('presets', s.presets) as unknown as Omit<FamilyHandlers<'presets'>, 'presets.search'>),
    'presets.search': ({ query, limit }) => ({ items: s.presets.search(query, limit) }),
  };
}
