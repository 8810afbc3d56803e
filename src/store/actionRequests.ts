import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { refusal } from '../answer.js';
import {
  ALREADY_APPROVED,
  decideTransition,
  type FinishedStatus,
  type RequestEvent,
  type RequestRefusal,
  type RequestStatus,
} from '../approvals/requestStateMachine.js';
import type { Risk } from '../runbooks/model.js';
import { inTransaction } from './transaction.js';

export interface ActionRequest {
  id: string;
  runId: string;
  stepId: string;
  target: string;
  risk: Risk;
  sql: string;
  params: Array<string | number>;
  /** The plan as previewed (see src/remediation/plan.ts), stored as JSON. */
  plan: Record<string, unknown>;
  planHash: string;
  previewedBy: string;
  requestedBy: string | null;
  requiredApprovals: number;
  status: RequestStatus;
  expiresAt: Date | null;
  approvedAt: Date | null;
  executeBy: Date | null;
  cardChannel: string | null;
  cardTs: string | null;
  outcome: Record<string, unknown> | null;
  approvers: string[];
  /** Why its plan offers no approval (the plan's `blocked`: nothing to do, over a limit), else null. */
  blocked: string | null;
}

interface Row {
  id: string;
  run_id: string;
  step_id: string;
  target: string;
  risk: Risk;
  sql: string;
  params: Array<string | number>;
  plan: Record<string, unknown>;
  plan_hash: string;
  previewed_by: string;
  requested_by: string | null;
  required_approvals: number;
  status: RequestStatus;
  expires_at: Date | null;
  approved_at: Date | null;
  execute_by: Date | null;
  card_channel: string | null;
  card_ts: string | null;
  outcome: Record<string, unknown> | null;
  approvers: string[] | null;
}

const SELECT = `SELECT r.*, coalesce((SELECT array_agg(a.approver ORDER BY a.approved_at) FROM approvals a WHERE a.request_id = r.id), '{}') AS approvers
                  FROM action_requests r`;

function blockedReason(plan: Record<string, unknown>): string | null {
  const blocked = plan.blocked as { reason?: unknown } | undefined;
  return typeof blocked?.reason === 'string' ? blocked.reason : null;
}

function toRequest(row: Row): ActionRequest {
  return {
    id: row.id,
    runId: row.run_id,
    stepId: row.step_id,
    target: row.target,
    risk: row.risk,
    sql: row.sql,
    params: row.params,
    plan: row.plan,
    planHash: row.plan_hash,
    previewedBy: row.previewed_by,
    requestedBy: row.requested_by,
    requiredApprovals: row.required_approvals,
    status: row.status,
    expiresAt: row.expires_at,
    approvedAt: row.approved_at,
    executeBy: row.execute_by,
    cardChannel: row.card_channel,
    cardTs: row.card_ts,
    outcome: row.outcome,
    approvers: row.approvers ?? [],
    blocked: blockedReason(row.plan),
  };
}

/** Runs inside the transaction of a state change, so the change and its audit row commit together. */
export type InTransaction = (client: pg.PoolClient, request: ActionRequest) => Promise<unknown>;

/** A transition applied: the request as it now stands. */
export type Applied = { ok: true; request: ActionRequest };

/** A transition refused, with the request as it stood (absent when there is none). */
export type StoreRefusal = RequestRefusal & { request?: ActionRequest };

/**
 * Action requests and their approvals. The rules of each transition are the state machine's
 * (approvals/requestStateMachine.ts); here it is applied: decided on the row read under its
 * lock, written by an UPDATE guarded by the status it was decided from, in one transaction
 * with its audit row. Concurrent clicks, Slack retries and stalled jobs picked up twice
 * cannot both win.
 */
export class ActionRequestStore {
  constructor(private readonly db: pg.Pool) {}

  async create(
    input: Pick<
      ActionRequest,
      'runId' | 'stepId' | 'target' | 'risk' | 'sql' | 'params' | 'plan' | 'planHash' | 'previewedBy'
    >,
    audit?: InTransaction,
  ): Promise<ActionRequest> {
    return this.transaction(async (client) => {
      const id = randomUUID();
      await client.query(
        `INSERT INTO action_requests (id, run_id, step_id, target, risk, sql, params, plan, plan_hash, previewed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          input.runId,
          input.stepId,
          input.target,
          input.risk,
          input.sql,
          JSON.stringify(input.params),
          JSON.stringify(input.plan),
          input.planHash,
          input.previewedBy,
        ],
      );
      const request = (await this.read(client, id))!;
      await audit?.(client, request);
      return request;
    });
  }

  async get(id: string): Promise<ActionRequest | undefined> {
    const { rows } = await this.db.query<Row>(`${SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? toRequest(rows[0]) : undefined;
  }

  /** previewed → pending: the approval card goes out; approvals count from now until `expiresAt`. */
  requestApproval(
    id: string,
    requestedBy: string,
    requiredApprovals: number,
    expiryMs: number,
    audit?: InTransaction,
  ): Promise<Applied | StoreRefusal> {
    // Every deadline is set and checked on the database's clock: the bot and the workers'
    // clocks may disagree, and a deadline must mean the same to all of them.
    return this.apply(id, { kind: 'requestApproval' }, audit, (client, from) =>
      this.guarded(
        client,
        `UPDATE action_requests SET status = 'pending', requested_by = $3, required_approvals = $4,
                expires_at = now() + make_interval(secs => $5::float8 / 1000), updated_at = now()
          WHERE id = $1 AND status = $2`,
        [id, from, requestedBy, requiredApprovals, expiryMs],
      ),
    );
  }

  /**
   * Records one approval; the same person approving twice counts once. Reaching the
   * required number moves it to approved, with an execution window that starts now.
   */
  approve(
    id: string,
    approver: string,
    executionWindowMs: number,
    audit?: InTransaction,
  ): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'approve', approver }, audit, async (client, from, to) => {
      const inserted = await client.query(
        'INSERT INTO approvals (request_id, approver) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [id, approver],
      );
      // The approvers were read under the row lock, so the state machine has refused a second
      // approval by the same person already; the key makes sure it could never count twice.
      if (inserted.rowCount === 0) return refusal(ALREADY_APPROVED);
      if (to !== 'approved') return undefined;
      return this.guarded(
        client,
        `UPDATE action_requests SET status = 'approved', approved_at = now(),
                execute_by = now() + make_interval(secs => $3::float8 / 1000), updated_at = now()
          WHERE id = $1 AND status = $2`,
        [id, from, executionWindowMs],
      );
    });
  }

  reject(id: string, audit?: InTransaction): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'reject' }, audit, (client, from, to) =>
      this.setStatus(client, id, from, to),
    );
  }

  /** pending → expired, only once its time is up (the expiry job may run early after a restart). */
  expire(id: string, audit?: InTransaction): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'expire' }, audit, (client, from, to) =>
      this.setStatus(client, id, from, to),
    );
  }

  /**
   * approved → lapsed, once its execution window has passed (by the database's clock): the
   * execution job came too late, or never came (the queue was down or lost it).
   */
  lapse(id: string, audit?: InTransaction): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'lapse' }, audit, (client, from, to) =>
      this.setStatus(client, id, from, to),
    );
  }

  /**
   * What the recovery sweep looks at: approved requests (to queue their execution again, or
   * lapse them) and pending ones past their expiry (whose expiry job was lost), quiet for
   * `quietSeconds`. However old: each is on its way to a final state, which is the point.
   */
  async waiting(options: {
    quietSeconds: number;
    limit: number;
  }): Promise<Array<{ id: string; status: 'approved' | 'pending'; due: boolean }>> {
    const { rows } = await this.db.query<{ id: string; status: 'approved' | 'pending'; due: boolean }>(
      `SELECT id, status, coalesce(CASE status WHEN 'approved' THEN execute_by ELSE expires_at END <= now(), false) AS due
         FROM action_requests
        WHERE status IN ('approved', 'pending')
          AND updated_at < now() - make_interval(secs => $1)
          AND (status = 'approved' OR expires_at <= now())
        ORDER BY updated_at
        LIMIT $2`,
      [options.quietSeconds, options.limit],
    );
    return rows;
  }

  /** approved → executing, inside the execution window. Only one caller ever gets the request back. */
  startExecution(id: string, audit?: InTransaction): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'startExecution' }, audit, (client, from, to) =>
      this.setStatus(client, id, from, to),
    );
  }

  finishExecution(
    id: string,
    status: FinishedStatus,
    outcome: Record<string, unknown>,
    audit?: InTransaction,
  ): Promise<Applied | StoreRefusal> {
    return this.apply(id, { kind: 'finishExecution', status }, audit, (client, from, to) =>
      this.guarded(
        client,
        'UPDATE action_requests SET status = $3, outcome = $4, updated_at = now() WHERE id = $1 AND status = $2',
        [id, from, to, JSON.stringify(outcome)],
      ),
    );
  }

  /**
   * Takes the lease on rendering the request's card, for `seconds`, in one statement and no
   * transaction: the card goes to Slack under the lease, never under a row lock (a lock held
   * through a Slack call starves the pool while approvals queue behind it). 'busy' when
   * another job holds it; that job is then told (card_dirty) to render once more before it
   * lets go, so the newest state always reaches the card. The same holder may take it again
   * (a job retried after its worker died).
   */
  async takeCard(id: string, holder: string, seconds: number): Promise<'taken' | 'busy' | 'missing'> {
    // The lease's state is read from the row being updated (not a subquery), so two jobs
    // taking it at once are decided on the row as the other one left it.
    const free = `coalesce(card_lease_until IS NULL OR card_lease_until < now() OR card_lease_by = $2, false)`;
    const { rows } = await this.db.query<{ taken: boolean }>(
      `UPDATE action_requests
          SET card_lease_by = CASE WHEN ${free} THEN $2 ELSE card_lease_by END,
              card_lease_until = CASE WHEN ${free} THEN now() + make_interval(secs => $3) ELSE card_lease_until END,
              card_dirty = NOT ${free}
        WHERE id = $1
        RETURNING card_lease_by = $2 AS taken`,
      [id, holder, seconds],
    );
    if (!rows[0]) return 'missing';
    return rows[0].taken ? 'taken' : 'busy';
  }

  /** How far an execution has got (a batched DML's batches), while it is executing. */
  async recordProgress(id: string, outcome: Record<string, unknown>): Promise<boolean> {
    const { rowCount } = await this.db.query(
      "UPDATE action_requests SET outcome = $2, updated_at = now() WHERE id = $1 AND status = 'executing'",
      [id, JSON.stringify(outcome)],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Where the card was first posted; an earlier record is kept. */
  async recordCard(id: string, channel: string, ts: string): Promise<void> {
    await this.db.query(
      'UPDATE action_requests SET card_channel = $2, card_ts = $3 WHERE id = $1 AND card_ts IS NULL',
      [id, channel, ts],
    );
  }

  /**
   * Gives the card lease back, unless another job changed the request meanwhile and found
   * the lease busy: then false, the mark is cleared, and the holder renders again.
   */
  async releaseCard(id: string, holder: string, seconds: number): Promise<boolean> {
    // Kept to render once more: renewed for that render, so it cannot lapse under it and let
    // a second job post the same card meanwhile.
    const { rows } = await this.db.query<{ released: boolean }>(
      `UPDATE action_requests
          SET card_lease_by = CASE WHEN card_dirty THEN card_lease_by END,
              card_lease_until = CASE WHEN card_dirty THEN now() + make_interval(secs => $3) END,
              card_dirty = false
        WHERE id = $1 AND card_lease_by = $2
        RETURNING card_lease_by IS NULL AS released`,
      [id, holder, seconds],
    );
    // Not ours any more (it lapsed and someone else took it): nothing left to do.
    return rows[0]?.released ?? true;
  }

  /** Gives the card lease back after a failure; the job's retry renders the state it finds. */
  async dropCard(id: string, holder: string): Promise<void> {
    await this.db.query(
      'UPDATE action_requests SET card_lease_by = NULL, card_lease_until = NULL WHERE id = $1 AND card_lease_by = $2',
      [id, holder],
    );
  }

  /**
   * Decides `event` on the request as read under its row lock, and applies the decision with
   * `write`, whose UPDATE is guarded by the status decided from (see `guarded`). The audit
   * row joins the same transaction.
   */
  private apply(
    id: string,
    event: RequestEvent,
    audit: InTransaction | undefined,
    write: (
      client: pg.PoolClient,
      from: RequestStatus,
      to: RequestStatus,
    ) => Promise<RequestRefusal | undefined>,
  ): Promise<Applied | StoreRefusal> {
    return this.transaction(async (client) => {
      const { request, now } = await this.lockAndRead(client, id);
      const decision = decideTransition(request, event, now);
      if (!decision.ok) return request ? { ...decision, request } : decision;
      const refused = await write(client, decision.from, decision.to);
      if (refused) return { ...refused, request };
      const updated = (await this.read(client, id))!;
      await audit?.(client, updated);
      return { ok: true, request: updated };
    });
  }

  /**
   * Runs an UPDATE of the request that says `WHERE id = $1 AND status = $2` (the status the
   * decision was made from). Under the row lock it always matches; should anything have moved
   * the row regardless, it throws, and the transaction writes nothing.
   */
  private async guarded(client: pg.PoolClient, sql: string, params: unknown[]): Promise<undefined> {
    const { rowCount } = await client.query(sql, params);
    if (rowCount !== 1)
      throw new Error(`request ${String(params[0])} left ${String(params[1])} under its lock`);
    return undefined;
  }

  private setStatus(client: pg.PoolClient, id: string, from: RequestStatus, to: RequestStatus) {
    return this.guarded(
      client,
      'UPDATE action_requests SET status = $3, updated_at = now() WHERE id = $1 AND status = $2',
      [id, from, to],
    );
  }

  private async read(client: pg.PoolClient, id: string): Promise<ActionRequest | undefined> {
    const { rows } = await client.query<Row>(`${SELECT} WHERE r.id = $1`, [id]);
    return rows[0] ? toRequest(rows[0]) : undefined;
  }

  /**
   * Locks the request's row, then reads it, with the database's clock: the deadlines were
   * set by that clock, so they are compared with it (one statement for lock and clock).
   */
  private async lockAndRead(
    client: pg.PoolClient,
    id: string,
  ): Promise<{ request: ActionRequest | undefined; now: number }> {
    const { rows } = await client.query<{ now: Date }>(
      'SELECT now() AS now FROM action_requests WHERE id = $1 FOR UPDATE',
      [id],
    );
    if (!rows[0]) return { request: undefined, now: Date.now() };
    return { request: await this.read(client, id), now: rows[0].now.getTime() };
  }

  private transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.db, work);
  }
}
