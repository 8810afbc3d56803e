import type { Command } from 'commander';
import { HEALTH_CHECKS } from '../health/catalog.js';
import { formatUnitValue } from '../health/units.js';
import type { CliIo } from './cliIo.js';

/** `runbook-bot checks`: the health checks and their default thresholds. */
export function addChecksCommand(program: Command, io: CliIo): void {
  program
    .command('checks')
    .description('List the health checks with their thresholds')
    .option('--json', 'print as JSON')
    .action((options: { json?: boolean }) => {
      const rows = HEALTH_CHECKS.map((check) => ({
        id: check.id,
        title: check.title,
        thresholds: Object.fromEntries(
          check.thresholds.map((spec) => [spec.key, formatUnitValue(spec.default, spec.unit)]),
        ),
        needsReadAllStats: check.needsReadAllStats ?? false,
        description: check.description,
      }));
      if (options.json) {
        io.stdout(JSON.stringify(rows, null, 2));
        return;
      }
      for (const row of rows) {
        const thresholds = Object.entries(row.thresholds)
          .map(([key, value]) => `${key}=${value}`)
          .join(' ');
        io.stdout(`${row.id.padEnd(28)} ${thresholds}`);
      }
    });
}
