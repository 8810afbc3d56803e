import type pg from 'pg';
import type { AuditLog } from '../audit/auditLog.js';
import type { AuditEvent, AuditEventInput } from '../audit/events.js';
import { inTransaction } from './transaction.js';

/** One refusal: who was refused what on which request, and where its run's thread is. */
export interface RefusalInput {
  requestId: string;
  actor: string;
  reason: string;
  target?: string;
  runId?: string;
  mirror?: AuditEventInput['mirror'];
}

/** An appended refusal event, with the thread it is to be mirrored to. */
export type RefusalEvent = AuditEvent & { mirror?: AuditEventInput['mirror'] };

interface RepeatRow {
  request_id: string;
  actor: string;
  reason: string;
  target: string | null;
  run_id: string | null;
  mirror_channel: string | null;
  mirror_thread_ts: string | null;
  logged_seq: string;
  unlogged: number;
}

/**
 * Refused clicks, audited without letting a hurried person's twenty clicks on one refused
 * button become twenty events. The audit log is append-only and hash-chained: an event's
 * count cannot be raised after it was appended, since that would change its hash and every
 * hash after it. So the first refusal of a kind (request, person, reason) is appended at
 * once with `count: 1`; repeats within `windowMs` of the last appended one are counted in
 * `refusal_repeats`, outside the chain; and those repeats are appended later as one event
 * carrying their count: by the next
 * repeat that comes after the window, or by the recovery sweep once they have been quiet
 * that long (`repeatOf`: the seq of the kind's event before). The counts of a kind's events add up to every refused click; none is lost, the
 * chain stays valid, and the trail shows a refusal, then "N more times".
 */
export class RefusalRepeatStore {
  constructor(private readonly db: pg.Pool) {}

  /** Records one refusal; answers the audit event appended for it, if one was. */
  record(refusal: RefusalInput, windowMs: number, audit: AuditLog): Promise<RefusalEvent | undefined> {
    return inTransaction(this.db, async (client) => {
      // One statement, whatever the kind's state: new (inserted), repeated within the window
      // (counted), or repeated after it (appended below). It locks the row for the append, and
      // a row the sweep deleted meanwhile is simply inserted again. Concurrent first clicks:
      // one inserts, the others wait for its commit and count.
      const { rows } = await client.query<RepeatRow & { inserted: boolean; recent: boolean }>(
        `INSERT INTO refusal_repeats (request_id, actor, reason, target, run_id, mirror_channel, mirror_thread_ts,
                                      logged_seq, logged_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, now())
         ON CONFLICT (request_id, actor, reason) DO UPDATE
           SET unlogged = refusal_repeats.unlogged
                 + (refusal_repeats.logged_at > now() - make_interval(secs => $8::float8 / 1000))::int
         RETURNING *, (xmax = 0) AS inserted,
                   logged_at > now() - make_interval(secs => $8::float8 / 1000) AS recent`,
        [
          refusal.requestId,
          refusal.actor,
          refusal.reason,
          refusal.target ?? null,
          refusal.runId ?? null,
          refusal.mirror?.channel ?? null,
          refusal.mirror?.threadTs ?? null,
          windowMs,
        ],
      );
      const row = rows[0]!;
      if (row.inserted) return this.appendFor(client, audit, toInput(refusal), 1);
      if (row.recent) return undefined;
      // After the window: this click and the repeats counted since the last event, as one.
      return this.appendFor(client, audit, toInput(refusal), row.unlogged + 1, row);
    });
  }

  /**
   * Appends the repeats that have been quiet for `quietMs` as one event each (the sweep):
   * without it, the last burst of a kind would stay outside the chain. Kinds settled for a
   * day are dropped.
   */
  flush(quietMs: number, audit: AuditLog, limit = 100): Promise<RefusalEvent[]> {
    return inTransaction(this.db, async (client) => {
      const { rows } = await client.query<RepeatRow>(
        `SELECT * FROM refusal_repeats
          WHERE unlogged > 0 AND logged_at <= now() - make_interval(secs => $1::float8 / 1000)
          ORDER BY logged_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [quietMs, limit],
      );
      const appended: RefusalEvent[] = [];
      for (const row of rows) {
        const input = toInput({
          requestId: row.request_id,
          actor: row.actor,
          reason: row.reason,
          target: row.target ?? undefined,
          runId: row.run_id ?? undefined,
          mirror: row.mirror_channel
            ? { channel: row.mirror_channel, threadTs: row.mirror_thread_ts ?? undefined }
            : undefined,
        });
        appended.push(await this.appendFor(client, audit, input, row.unlogged, row));
      }
      // A kind long settled is forgotten: its next refusal is audited as a first one.
      await client.query(
        `DELETE FROM refusal_repeats WHERE unlogged = 0 AND logged_at < now() - interval '1 day'`,
      );
      return appended;
    });
  }

  /** `previous`: the kind's row when this event stands for repeats of an earlier one. */
  private async appendFor(
    client: pg.PoolClient,
    audit: AuditLog,
    input: AuditEventInput,
    count: number,
    previous?: RepeatRow,
  ): Promise<RefusalEvent> {
    const event = await audit.append(
      {
        ...input,
        data: {
          ...input.data,
          count,
          ...(previous && Number(previous.logged_seq) > 0 ? { repeatOf: Number(previous.logged_seq) } : {}),
        },
      },
      client,
    );
    await client.query(
      `UPDATE refusal_repeats SET logged_seq = $4, logged_at = now(), unlogged = 0
        WHERE request_id = $1 AND actor = $2 AND reason = $3`,
      [input.requestId, input.actor, input.data.reason, event.seq],
    );
    return input.mirror ? { ...event, mirror: input.mirror } : event;
  }
}

function toInput(refusal: RefusalInput): AuditEventInput {
  return {
    kind: 'refused',
    actor: refusal.actor,
    target: refusal.target,
    runId: refusal.runId,
    requestId: refusal.requestId,
    data: { reason: refusal.reason },
    mirror: refusal.mirror,
  };
}
