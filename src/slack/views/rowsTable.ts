import type { KnownBlock } from '@slack/types';
import { tableLines } from '../../health/evidenceTable.js';
import { formatDuration } from '../../health/units.js';
import { plural } from '../../text.js';
import { LIMITS } from '../blockLimits.js';
import { codeFence, section } from './mrkdwn.js';

const CELL_WIDTH = 40;
/** Room for the table in one section, leaving some for its caption. */
const TABLE_CHARS = LIMITS.sectionText - 200;

/** Rows a statement returned, as a check's result or an executed action's output keeps them. */
export interface ReturnedRows {
  columns: string[];
  rows: string[][];
  /** Rows returned in all; more than `rows.length` when only the first were kept. */
  rowCount: number;
  truncated: boolean;
  durationMs?: number;
}

/**
 * The rows as one fixed-width table with a caption: as many whole rows as fit in a section,
 * and how many are not shown (and where they are, when the caller puts them somewhere).
 */
export function rowsBlocks(result: ReturnedRows, elsewhere?: string): KnownBlock[] {
  const lines = tableLines(result.columns, result.rows, CELL_WIDTH);
  const shown = rowsThatFit(lines);
  const took = result.durationMs === undefined ? '' : ` (${formatDuration(result.durationMs)})`;
  const caption =
    shown < result.rowCount
      ? `${shown} of ${plural(result.rowCount, 'row')} shown${result.truncated ? ` (the first ${result.rows.length} were kept)` : ''}${elsewhere ? `; ${elsewhere}` : ''}.`
      : `${plural(result.rowCount, 'row')}${took}.`;
  return [
    section(codeFence(lines.slice(0, shown + 1).join('\n'))),
    { type: 'context', elements: [{ type: 'mrkdwn', text: caption }] },
  ];
}

/** Rows beyond what {@link rowsBlocks} shows. */
export function rowsNotShownOf(result: ReturnedRows): number {
  return result.rowCount - rowsThatFit(tableLines(result.columns, result.rows, CELL_WIDTH));
}

/** Header plus as many whole rows as fit in one section. */
function rowsThatFit(lines: string[]): number {
  let shown = 0;
  let length = lines[0]?.length ?? 0;
  while (shown + 1 < lines.length && length + lines[shown + 1]!.length + 1 <= TABLE_CHARS) {
    length += lines[shown + 1]!.length + 1;
    shown += 1;
  }
  return shown;
}
