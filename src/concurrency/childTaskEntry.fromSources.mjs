// Entry of runInChildProcess's children when running from TypeScript sources (tests,
// `npm run demo`): the child registers tsx itself before loading the entry module. Built
// code (dist/) starts childTaskEntry.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./childTaskEntry.ts');
