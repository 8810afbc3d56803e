import type { StepRecord } from '../store/procedureRuns.js';
import type { Parameter, Step } from './model.js';
import { validateParameterValue } from './sql/placeholders.js';

/** A value an earlier check of the run returned for a parameter, with the row it came from. */
export interface ParameterChoice {
  value: string;
  /** The row's other cells, in column order: what tells one pid from another. */
  others: string[];
}

/** The values offered for one parameter, and the checks they were read from. */
export interface ParameterChoices {
  choices: ParameterChoice[];
  /** Each check the values came from: its number in the procedure, title and columns. */
  sources: Array<{ number: number; title: string; columns: string[] }>;
}

/**
 * What the run's earlier checks returned in a column named like each parameter: the pid the
 * diagnosis found is the pid the fix needs, so it is offered instead of being copied by hand.
 * Only values the parameter accepts, each once, in the order the checks returned them.
 * Parameters with nothing to offer are left out.
 */
export function parameterChoices(
  steps: Step[],
  records: StepRecord[],
  /** The action asking: only checks before it count. */
  stepId: string,
  needed: Parameter[],
): Record<string, ParameterChoices> {
  const end = steps.findIndex((step) => step.id === stepId);
  const offered: Record<string, ParameterChoices> = {};
  for (const param of needed) {
    const seen = new Set<string>();
    const found: ParameterChoices = { choices: [], sources: [] };
    for (const [index, step] of steps.slice(0, Math.max(end, 0)).entries()) {
      const result = records.find((record) => record.stepId === step.id)?.result;
      if (step.kind !== 'check' || result?.status !== 'ok') continue;
      const column = result.columns.findIndex((name) => name.toLowerCase() === param.name);
      if (column < 0) continue;
      let contributed = false;
      for (const row of result.rows) {
        const value = row[column]?.trim() ?? '';
        if (value === '' || seen.has(value) || !validateParameterValue(param, value).ok) continue;
        seen.add(value);
        contributed = true;
        found.choices.push({ value, others: row.filter((_, at) => at !== column) });
      }
      if (contributed) found.sources.push({ number: index + 1, title: step.title, columns: result.columns });
    }
    if (found.choices.length > 0) offered[param.name] = found;
  }
  return offered;
}
