import { watchOverlappingQueries } from './overlappingQueries.js';

/** `--import`ed into a child process: every query sent on a busy pg client goes to stderr. */
watchOverlappingQueries((text) => process.stderr.write(text));
