// Entry of the runbook reader thread when running from TypeScript sources (tests,
// `npm run demo`): a worker thread does not inherit tsx's loader on Node 20, so it
// registers tsx itself before loading the thread module. Built code (dist/) starts
// readRunbooksThread.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./readRunbooksThread.ts');
