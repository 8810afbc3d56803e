import { beforeAll, describe, expect, it } from 'vitest';
import { statementShape } from '../../src/remediation/statementShape.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { action } from '../support/actionSteps.js';

describe('statementShape', () => {
  beforeAll(async () => {
    await loadSqlParser();
  });

  it('samples a DML with RETURNING as written, without a second RETURNING', () => {
    const shape = statementShape(
      action("UPDATE orders SET status = 'archived' WHERE id < 10 RETURNING id, status"),
    );
    expect(shape.mode).toBe('dml');
    expect(shape.sampleSql).toMatch(/RETURNING id, status\n\) SELECT/);
    expect(shape.sampleSql?.match(/RETURNING/g)).toHaveLength(1);
  });

  it('adds RETURNING * to sample a DML without one', () => {
    const shape = statementShape(action("DELETE FROM orders WHERE status = 'cancelled'"));
    expect(shape.sampleSql).toContain('RETURNING *');
  });
});
