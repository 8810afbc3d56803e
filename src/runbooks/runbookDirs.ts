import { fileURLToPath } from 'node:url';

/**
 * The runbooks shipped with the bot, read from src/ by tsx and by the built dist/ alike.
 * A module of its own so that naming the directory does not load the parsers.
 */
export const BUILT_IN_RUNBOOKS_DIR = fileURLToPath(new URL('../../src/runbooks/library/', import.meta.url));
