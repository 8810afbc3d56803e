import { cellText } from '../targets/cellText.js';
import { clip } from '../text.js';
import type { EvidenceRow } from './types.js';

/**
 * Evidence rows as aligned plain-text lines (header first), each cell cut to `cellWidth`
 * with an ellipsis. Shared by the terminal report and the Slack views' code blocks.
 */
export function evidenceLines(rows: EvidenceRow[], cellWidth: number): string[] {
  const columns = Object.keys(rows[0] ?? {});
  return tableLines(
    columns,
    rows.map((row) => columns.map((column) => row[column])),
    cellWidth,
  );
}

/** Like evidenceLines, for rows given as arrays under column names (which may repeat). */
export function tableLines(columns: string[], rows: unknown[][], cellWidth: number): string[] {
  const cell = (value: unknown) => {
    // A missing value is a blank cell, as psql prints it; a check's stored 'NULL' stays spelled out.
    const text = cellText(value, Number.POSITIVE_INFINITY, '').replace(/\s+/g, ' ');
    return clip(text, cellWidth);
  };
  const cells = rows.map((row) => columns.map((_, i) => cell(row[i])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)];
}
