/** `--identity` / `--fix-permissions`, shared by every command that loads the node's identity. */
import type { LoadIdentityOptions } from '../identity.js';

export interface IdentityFlags {
  identity?: string;
  fixPermissions?: boolean;
}

/**
 * The identity loader's permission policy for these flags: refuse a group/other-accessible key
 * file, or with `--fix-permissions` chmod it to 0600 and say so on stderr.
 */
export function permissionsOption(opts: IdentityFlags): LoadIdentityOptions {
  if (!opts.fixPermissions) return { permissions: 'refuse' };
  return {
    permissions: 'fix',
    onFixed: (file, mode) => process.stderr.write(`octopii: ${file} had mode 0${mode.toString(8)}; changed to 0600\n`),
  };
}
