import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The YAML library, loaded the first time a file is read rather than with the configuration
 * module: a process configured by environment variables alone (a one-target CLI command)
 * never loads it. Synchronous because reading the configuration is; `yaml` is CommonJS for
 * Node either way, so this is the same module an `import` would give.
 */
export function yaml(): typeof import('yaml') {
  return require('yaml') as typeof import('yaml');
}
