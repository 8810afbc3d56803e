import type { Risk } from '../model.js';

export const RISK_ORDER: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

/** What classifying one statement found: why it is an action, and how risky, as it goes. */
export class Verdict {
  readonly actionReasons: string[] = [];
  readonly riskReasons: string[] = [];
  risk?: Risk;
  noTransaction = false;

  action(reason: string, risk: Risk, riskReason = reason): void {
    if (!this.actionReasons.includes(reason)) this.actionReasons.push(reason);
    this.raise(risk, riskReason);
  }

  raise(risk: Risk, reason: string): void {
    if (!this.riskReasons.includes(reason)) this.riskReasons.push(reason);
    if (!this.risk || RISK_ORDER[risk] > RISK_ORDER[this.risk]) this.risk = risk;
  }
}
