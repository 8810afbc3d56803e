#!/usr/bin/env node
// npm links package bins before `prepare` builds dist/, so the built entry points never get
// the executable bit from npm: set it here (a no-op on Windows, where npm uses shims).
import { chmodSync } from 'node:fs';

for (const file of ['dist/cli.js', 'dist/main.js']) chmodSync(file, 0o755);
