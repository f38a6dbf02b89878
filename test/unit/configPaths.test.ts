/**
 * src/configPaths.ts: the identity paths `octopii id` resolves without the config schema agree
 * with loadConfig's, and any other config variable sends the caller to loadConfig.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { identityFileOf, identityPathsOnly } from '../../src/configPaths.js';
import { loadConfig } from '../../src/config.js';

describe('identityPathsOnly', () => {
  it.each([
    [{}, {}],
    [{}, { OCTOPII_DATA_DIR: '/d' }],
    [{}, { OCTOPII_DATA_DIR: '/d', OCTOPII_IDENTITY: '/i.pem' }],
    [{ dataDir: '/o' }, { OCTOPII_DATA_DIR: '/d' }],
    [{ identityFile: '/o.pem' }, { OCTOPII_IDENTITY: '/i.pem' }],
    [{}, { OCTOPII_DATA_DIR: '', OCTOPII_IDENTITY: '' }],
    [{}, { OCTOPII_FROM_SOURCE: '1' }],
  ])('options %j, env %j: the identity file loadConfig gives', (options, env) => {
    const paths = identityPathsOnly(options, env);
    expect(paths).toBeDefined();
    expect(identityFileOf(paths!)).toBe(identityFileOf(loadConfig(options, { env })));
  });

  it('defaults to ~/.octopii/identity.pem', () => {
    expect(identityFileOf(identityPathsOnly({}, {})!)).toBe(join(homedir(), '.octopii', 'identity.pem'));
  });

  it.each(['OCTOPII_HASH_THREADS', 'OCTOPII_TRANSPORT', 'OCTOPII_RECEIVE_STALL_MS'])('%s set: undefined (loadConfig must validate it)', (variable) => {
    expect(identityPathsOnly({}, { [variable]: 'x' })).toBeUndefined();
  });
});
