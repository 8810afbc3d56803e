#!/usr/bin/env node
// tsc compiles only TypeScript; the console's page (plain browser modules and CSS) is
// copied next to the compiled server, which serves it from ./public.
import { cpSync } from 'node:fs';

cpSync('src/console/public', 'dist/console/public', {
  recursive: true,
  filter: (source) => !source.endsWith('.d.ts'),
});
