/**
 * The shared store for several relay instances: PostgreSQL through the `postgres` package.
 *
 * Sequencing across instances: a conversation's `head` row is the only source of seqs (for
 * messages and updates alike), and every write of a conversation locks it before it reads or
 * writes anything of that conversation, so two instances can never hand out the same seq, a
 * retried id is always seen as a duplicate, and the checks of a change (author, deleted, the
 * reactions already there) see every earlier change, whichever relay made it. Group commit,
 * pipelined as in the SQLite store: the appends and changes that arrive while one batch is
 * being committed go to the server, the moment it answers, as ONE statement — a call of the
 * `chat_write` function with the whole batch as JSON, in call order — which is one round trip
 * and one implicit transaction (one WAL flush), however many items it carries. One batch is in
 * flight at a time, so seqs follow call order. Nothing here blocks the event loop: the driver
 * is asynchronous, and reads go through the pool alongside.
 *
 * Webhooks: events are queued by the same statements that store them; relays claim them with
 * `FOR UPDATE SKIP LOCKED` and a lease, one event per conversation at a time.
 *
 * Availability: when the server cannot be reached every operation rejects with
 * StoreUnavailableError (the hub answers `unavailable`, clients retry); the pool reconnects
 * by itself on the next operation once the server is back.
 */
import postgres from 'postgres';
import { Limits, type LogEvent, type Member, type User, type WebhookEvent, type WebhookEventType } from '../../protocol/index.js';
import { Batcher } from './batcher.js';
import { advanceCursor } from './cursor.js';
import {
  memberFromRow,
  messageFromInput,
  messageFromRow,
  quoteFromRow,
  updateFrame,
  updateFromRow,
  type MemberRow,
  type MessageRow,
  type QuoteRow,
  type UpdateRow,
} from './rows.js';
import {
  StoreUnavailableError,
  type AppendInput,
  type AppendResult,
  type Ban,
  type ChangeInput,
  type ChangeResult,
  type CursorUpdate,
  type Page,
  type QueuedWebhook,
  type Store,
  type StoredMessage,
} from './types.js';

type Sql = postgres.Sql<Record<string, never>>;

/**
 * Versioned migrations, applied in order, each once, in one transaction under an advisory
 * lock (so relays starting together neither race nor apply anything twice). Never edit a
 * released entry: add a new one. Identifier columns use the "C" collation so ordering
 * matches SQLite's (byte order) whatever the database's locale.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE chat_meta (key text PRIMARY KEY, value text NOT NULL);
      INSERT INTO chat_meta (key, value) VALUES ('epoch', gen_random_uuid()::text);
      CREATE TABLE chat_conversations (
        id text COLLATE "C" PRIMARY KEY,
        head bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE chat_messages (
        conv text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        sender text COLLATE "C" NOT NULL,
        sender_name text NOT NULL,
        text text,
        file jsonb,
        ts bigint NOT NULL,
        PRIMARY KEY (conv, seq),
        UNIQUE (conv, id)
      );
      CREATE TABLE chat_members (
        conv text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        delivered bigint NOT NULL DEFAULT 0,
        read bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (conv, user_id)
      );
      -- One call appends a whole batch (JSON array of {conv,id,sender,name,text?,file?,ts})
      -- and returns one row per item, in order. It first locks every conversation of the
      -- batch in one fixed order (no deadlock between instances); after that, whoever
      -- appended to them before us has committed, and because a VOLATILE function takes a
      -- fresh snapshot per statement, the duplicate check below sees their rows.
      CREATE FUNCTION chat_append(batch jsonb)
      RETURNS TABLE (r_kind text, r_seq bigint, r_ts bigint)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        item jsonb;
        prior record;
        next_seq bigint;
      BEGIN
        INSERT INTO chat_conversations AS c (id)
          SELECT DISTINCT e->>'conv' FROM jsonb_array_elements(batch) AS e ORDER BY 1
          ON CONFLICT (id) DO NOTHING;
        PERFORM 1 FROM chat_conversations AS c
          WHERE c.id IN (SELECT e->>'conv' FROM jsonb_array_elements(batch) AS e)
          ORDER BY c.id FOR UPDATE;
        FOR item IN SELECT e FROM jsonb_array_elements(batch) AS e LOOP
          SELECT m.seq, m.sender, m.ts INTO prior
            FROM chat_messages AS m WHERE m.conv = item->>'conv' AND m.id = item->>'id';
          IF FOUND THEN
            IF prior.sender = item->>'sender' THEN
              r_kind := 'duplicate'; r_seq := prior.seq; r_ts := prior.ts;
            ELSE
              r_kind := 'conflict'; r_seq := NULL; r_ts := NULL;
            END IF;
          ELSE
            UPDATE chat_conversations AS c SET head = c.head + 1
              WHERE c.id = item->>'conv' RETURNING c.head INTO next_seq;
            INSERT INTO chat_messages (conv, seq, id, sender, sender_name, text, file, ts)
              VALUES (item->>'conv', next_seq, item->>'id', item->>'sender', item->>'name',
                      item->>'text', item->'file', (item->>'ts')::bigint);
            r_kind := 'stored'; r_seq := next_seq; r_ts := (item->>'ts')::bigint;
          END IF;
          RETURN NEXT;
        END LOOP;
      END
      $fn$;
    `,
  },
  {
    version: 2,
    // v1.1: the log of changes (updates share the head with messages), the materialised current
    // state of each message, members' since/seen, bans, and the durable webhook queue. Every
    // write of a conversation (chat_write, a first join, a completed webhook) locks its
    // conversation row first, so seqs stay gap-free and the queue's per-conversation head flag
    // (`is_head`: the only event of a conversation that may be claimed) never races. chat_append
    // stays for relays of the previous version during a rolling upgrade.
    sql: `
      ALTER TABLE chat_messages
        ADD COLUMN edited bigint,
        ADD COLUMN deleted boolean NOT NULL DEFAULT false,
        ADD COLUMN reactions jsonb,
        ADD COLUMN reply_seq bigint,
        ADD COLUMN rev bigint;
      CREATE TABLE chat_updates (
        conv text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        by_id text COLLATE "C" NOT NULL,
        by_name text NOT NULL,
        ts bigint NOT NULL,
        kind text NOT NULL,
        text text,
        emoji text,
        on_ boolean,
        PRIMARY KEY (conv, seq)
      );
      ALTER TABLE chat_members
        ADD COLUMN since bigint NOT NULL DEFAULT 0,
        ADD COLUMN seen bigint;
      CREATE TABLE chat_bans (
        conv text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        until bigint,
        PRIMARY KEY (conv, user_id)
      );
      CREATE TABLE chat_webhooks (
        qid bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        conv text COLLATE "C" NOT NULL,
        type text NOT NULL,
        ts bigint NOT NULL,
        data jsonb NOT NULL,
        is_head boolean NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL DEFAULT 0,
        lease_owner text,
        lease_until bigint,
        last_error text
      );
      CREATE INDEX chat_webhooks_conv ON chat_webhooks (conv, qid);
      CREATE INDEX chat_webhooks_due ON chat_webhooks (next_attempt_at, qid) WHERE is_head;

      -- A message row with its quoted message's columns (q_*), as JSON (rows.ts MessageRow).
      CREATE FUNCTION chat_message_row(p_conv text, p_seq bigint) RETURNS jsonb
      LANGUAGE sql VOLATILE AS $fn$
        SELECT to_jsonb(x) FROM (
          SELECT m.conv, m.seq, m.id, m.sender, m.sender_name, m.text, m.file, m.ts,
                 m.edited, m.deleted, m.reactions, m.reply_seq, m.rev,
                 q.id AS q_id, q.sender AS q_sender, q.sender_name AS q_sender_name,
                 q.text AS q_text, q.file AS q_file, q.deleted AS q_deleted
          FROM chat_messages AS m LEFT JOIN chat_messages AS q ON q.conv = m.conv AND q.seq = m.reply_seq
          WHERE m.conv = p_conv AND m.seq = p_seq) AS x
      $fn$;

      -- Queues a webhook event behind its conversation's others. The caller holds the
      -- conversation's lock, so "is there an older one" cannot change under it.
      CREATE FUNCTION chat_enqueue(p_id text, p_conv text, p_type text, p_ts bigint, p_data jsonb) RETURNS void
      LANGUAGE sql VOLATILE AS $fn$
        INSERT INTO chat_webhooks (id, conv, type, ts, data, is_head)
        VALUES (p_id, p_conv, p_type, p_ts, p_data, NOT EXISTS (SELECT 1 FROM chat_webhooks AS w WHERE w.conv = p_conv))
        ON CONFLICT (id) DO NOTHING
      $fn$;

      -- One call writes a whole batch of appends and changes (JSON array, each with "op"), in
      -- order, and returns one row per item. It first locks every conversation of the batch in
      -- one fixed order (no deadlock between relays); after that whoever wrote to them before
      -- has committed, and because a VOLATILE function takes a fresh snapshot per statement,
      -- every check below (duplicate id, author, deleted, reactions) sees their writes. The
      -- change rule is relay/store/changes.ts's, which SQLite runs; the conformance suite
      -- holds both to the same answers.
      CREATE FUNCTION chat_write(batch jsonb, hooks boolean, hook_prefix text, max_reactions integer)
      RETURNS TABLE (r_kind text, r_seq bigint, r_ts bigint, r_row jsonb)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        item jsonb;
        v_conv text;
        v_ts bigint;
        prior record;
        quoted record;
        m record;
        next_seq bigint;
        v_reply_seq bigint;
        v_kind text;
        v_who text;
        v_on boolean;
        v_pairs jsonb;
        v_users jsonb;
        v_idx integer;
      BEGIN
        INSERT INTO chat_conversations AS cv (id)
          SELECT DISTINCT e->>'conv' FROM jsonb_array_elements(batch) AS e ORDER BY 1
          ON CONFLICT (id) DO NOTHING;
        PERFORM 1 FROM chat_conversations AS cv
          WHERE cv.id IN (SELECT e->>'conv' FROM jsonb_array_elements(batch) AS e)
          ORDER BY cv.id FOR UPDATE;
        FOR item IN SELECT e FROM jsonb_array_elements(batch) AS e LOOP
          v_conv := item->>'conv';
          v_ts := (item->>'ts')::bigint;
          r_kind := NULL; r_seq := NULL; r_ts := NULL; r_row := NULL;
          IF item->>'op' = 'append' THEN
            SELECT x.seq, x.sender, x.ts INTO prior
              FROM chat_messages AS x WHERE x.conv = v_conv AND x.id = item->>'id';
            IF FOUND THEN
              IF prior.sender = item->>'sender' THEN
                r_kind := 'duplicate'; r_seq := prior.seq; r_ts := prior.ts;
              ELSE
                r_kind := 'conflict';
              END IF;
              RETURN NEXT;
              CONTINUE;
            END IF;
            v_reply_seq := NULL;
            IF item->>'reply' IS NOT NULL THEN
              SELECT x.seq AS reply_seq, x.id AS q_id, x.sender AS q_sender, x.sender_name AS q_sender_name,
                     x.text AS q_text, x.file AS q_file, x.deleted AS q_deleted
                INTO quoted FROM chat_messages AS x WHERE x.conv = v_conv AND x.id = item->>'reply';
              IF NOT FOUND THEN
                r_kind := 'reply_not_found';
                RETURN NEXT;
                CONTINUE;
              END IF;
              v_reply_seq := quoted.reply_seq;
              r_row := to_jsonb(quoted);
            END IF;
            UPDATE chat_conversations AS cv SET head = cv.head + 1 WHERE cv.id = v_conv RETURNING cv.head INTO next_seq;
            INSERT INTO chat_messages (conv, seq, id, sender, sender_name, text, file, ts, reply_seq)
              VALUES (v_conv, next_seq, item->>'id', item->>'sender', item->>'name', item->>'text', item->'file', v_ts, v_reply_seq);
            IF hooks THEN
              PERFORM chat_enqueue(hook_prefix || v_conv || '/' || next_seq, v_conv, 'message.created', v_ts, chat_message_row(v_conv, next_seq));
            END IF;
            r_kind := 'stored'; r_seq := next_seq; r_ts := v_ts;
            RETURN NEXT;
            CONTINUE;
          END IF;

          -- A change: edit, delete or react.
          SELECT x.seq, x.sender, x.text, x.deleted, x.reactions, x.rev, x.ts INTO m
            FROM chat_messages AS x WHERE x.conv = v_conv AND x.id = item->>'id';
          IF NOT FOUND THEN
            r_kind := 'not_found';
            RETURN NEXT;
            CONTINUE;
          END IF;
          v_kind := item->>'kind';
          v_who := item->>'by';
          v_pairs := m.reactions;
          IF v_kind = 'edit' THEN
            IF item->>'authority' <> 'server' AND m.sender <> v_who THEN r_kind := 'forbidden:not_author';
            ELSIF m.deleted THEN r_kind := 'forbidden:deleted';
            ELSIF m.text IS NOT DISTINCT FROM item->>'text' THEN r_kind := 'unchanged';
            END IF;
          ELSIF v_kind = 'delete' THEN
            IF item->>'authority' = 'member' AND m.sender <> v_who THEN r_kind := 'forbidden:not_author';
            ELSIF m.deleted THEN r_kind := 'unchanged';
            END IF;
          ELSIF m.deleted THEN
            r_kind := 'forbidden:deleted';
          ELSE
            v_on := (item->>'on')::boolean;
            v_pairs := coalesce(m.reactions, '[]'::jsonb);
            v_idx := NULL;
            v_users := NULL;
            SELECT (x.o - 1)::integer, x.p->1 INTO v_idx, v_users
              FROM jsonb_array_elements(v_pairs) WITH ORDINALITY AS x(p, o) WHERE x.p->>0 = item->>'emoji';
            IF coalesce(v_users @> to_jsonb(v_who), false) = v_on THEN
              r_kind := 'unchanged';
            ELSIF v_on THEN
              IF v_idx IS NOT NULL THEN
                v_pairs := jsonb_set(v_pairs, ARRAY[v_idx::text, '1'], v_users || to_jsonb(v_who));
              ELSIF jsonb_array_length(v_pairs) >= max_reactions THEN
                r_kind := 'too_many_reactions';
              ELSE
                v_pairs := v_pairs || jsonb_build_array(jsonb_build_array(item->>'emoji', jsonb_build_array(v_who)));
              END IF;
            ELSE
              v_users := (SELECT coalesce(jsonb_agg(u.v ORDER BY u.o), '[]'::jsonb)
                          FROM jsonb_array_elements(v_users) WITH ORDINALITY AS u(v, o) WHERE u.v <> to_jsonb(v_who));
              IF jsonb_array_length(v_users) = 0 THEN
                v_pairs := v_pairs - v_idx;
              ELSE
                v_pairs := jsonb_set(v_pairs, ARRAY[v_idx::text, '1'], v_users);
              END IF;
            END IF;
            IF jsonb_array_length(v_pairs) = 0 THEN v_pairs := NULL; END IF;
          END IF;
          IF r_kind = 'unchanged' THEN
            r_seq := coalesce(m.rev, m.seq);
            IF m.rev IS NULL THEN
              r_ts := m.ts;
            ELSE
              SELECT u.ts INTO r_ts FROM chat_updates AS u WHERE u.conv = v_conv AND u.seq = m.rev;
            END IF;
          END IF;
          IF r_kind IS NOT NULL THEN
            RETURN NEXT;
            CONTINUE;
          END IF;
          UPDATE chat_conversations AS cv SET head = cv.head + 1 WHERE cv.id = v_conv RETURNING cv.head INTO next_seq;
          INSERT INTO chat_updates (conv, seq, id, by_id, by_name, ts, kind, text, emoji, on_)
            VALUES (v_conv, next_seq, item->>'id', v_who, item->>'byName', v_ts, v_kind,
                    CASE WHEN v_kind = 'edit' THEN item->>'text' END,
                    CASE WHEN v_kind = 'react' THEN item->>'emoji' END,
                    CASE WHEN v_kind = 'react' THEN v_on END);
          IF v_kind = 'edit' THEN
            UPDATE chat_messages AS x SET text = item->>'text', edited = v_ts, rev = next_seq WHERE x.conv = v_conv AND x.seq = m.seq;
          ELSIF v_kind = 'delete' THEN
            UPDATE chat_messages AS x SET text = NULL, file = NULL, deleted = true, rev = next_seq WHERE x.conv = v_conv AND x.seq = m.seq;
          ELSE
            UPDATE chat_messages AS x SET reactions = v_pairs, rev = next_seq WHERE x.conv = v_conv AND x.seq = m.seq;
          END IF;
          r_row := chat_message_row(v_conv, m.seq);
          IF hooks THEN
            PERFORM chat_enqueue(hook_prefix || v_conv || '/' || next_seq, v_conv,
                                 CASE WHEN v_kind = 'delete' THEN 'message.deleted' ELSE 'message.updated' END, v_ts, r_row);
          END IF;
          r_kind := 'stored'; r_seq := next_seq; r_ts := v_ts;
          RETURN NEXT;
        END LOOP;
      END
      $fn$;

      -- Records a join. A known member is only renamed (when the name changed), without a lock;
      -- a first join locks the conversation, so since is the head at that moment and the
      -- member.joined event takes its place in the conversation's queue order.
      CREATE FUNCTION chat_join(p_conv text, p_user text, p_name text, hooks boolean, hook_prefix text, p_ts bigint)
      RETURNS TABLE (r_user text, r_name text, r_delivered bigint, r_read bigint, r_since bigint, r_seen bigint, r_new boolean)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        mb record;
        h bigint;
      BEGIN
        SELECT x.name, x.delivered, x.read, x.since, x.seen INTO mb
          FROM chat_members AS x WHERE x.conv = p_conv AND x.user_id = p_user;
        IF NOT FOUND THEN
          INSERT INTO chat_conversations (id) VALUES (p_conv) ON CONFLICT (id) DO NOTHING;
          SELECT cv.head INTO h FROM chat_conversations AS cv WHERE cv.id = p_conv FOR UPDATE;
          INSERT INTO chat_members (conv, user_id, name, since) VALUES (p_conv, p_user, p_name, h)
            ON CONFLICT (conv, user_id) DO NOTHING;
          IF FOUND THEN
            IF hooks THEN
              PERFORM chat_enqueue(hook_prefix || p_conv || '/member/' || p_user, p_conv, 'member.joined', p_ts,
                jsonb_build_object('user', p_user, 'name', p_name, 'delivered', 0, 'read', 0, 'since', h));
            END IF;
            RETURN QUERY SELECT p_user, p_name, 0::bigint, 0::bigint, h, NULL::bigint, true;
            RETURN;
          END IF;
          -- Another relay's first join of the same user won the race (it committed before our lock).
          SELECT x.name, x.delivered, x.read, x.since, x.seen INTO mb
            FROM chat_members AS x WHERE x.conv = p_conv AND x.user_id = p_user;
        END IF;
        IF mb.name IS DISTINCT FROM p_name THEN
          UPDATE chat_members AS x SET name = p_name WHERE x.conv = p_conv AND x.user_id = p_user;
        END IF;
        RETURN QUERY SELECT p_user, p_name, mb.delivered, mb.read, mb.since, mb.seen, false;
      END
      $fn$;

      -- Removes a delivered event while p_owner still holds its lease, and makes the next event
      -- of its conversation the head. Under the conversation's lock, as enqueueing is.
      CREATE FUNCTION chat_webhook_done(p_id text, p_owner text) RETURNS boolean
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_conv text;
      BEGIN
        SELECT w.conv INTO v_conv FROM chat_webhooks AS w WHERE w.id = p_id AND w.lease_owner = p_owner;
        IF NOT FOUND THEN RETURN false; END IF;
        PERFORM 1 FROM chat_conversations AS cv WHERE cv.id = v_conv FOR UPDATE;
        DELETE FROM chat_webhooks AS w WHERE w.id = p_id AND w.lease_owner = p_owner;
        IF NOT FOUND THEN RETURN false; END IF;
        UPDATE chat_webhooks AS w SET is_head = true
          WHERE w.qid = (SELECT min(x.qid) FROM chat_webhooks AS x WHERE x.conv = v_conv) AND NOT w.is_head;
        RETURN true;
      END
      $fn$;
    `,
  },
];

/** Arbitrary but fixed: the advisory lock that serializes migrations across relays. */
const MIGRATION_LOCK = 7_236_213_491_108_431;

/** A message and the message it quotes, as every read of messages selects them (rows.ts MessageRow). */
const MESSAGE_COLUMNS = `m.conv, m.seq, m.id, m.sender, m.sender_name, m.text, m.file, m.ts,
  m.edited, m.deleted, m.reactions, m.reply_seq, m.rev,
  q.id AS q_id, q.sender AS q_sender, q.sender_name AS q_sender_name, q.text AS q_text, q.file AS q_file, q.deleted AS q_deleted`;
const MESSAGE_FROM = 'chat_messages AS m LEFT JOIN chat_messages AS q ON q.conv = m.conv AND q.seq = m.reply_seq';
/** The log: messages and updates in ONE statement, so both kinds come from one snapshot (no update missing between two messages). */
const LOG_QUERY = `
  (SELECT 'msg' AS type, ${MESSAGE_COLUMNS}, NULL::text AS kind, NULL::text AS emoji, NULL::boolean AS on_
   FROM ${MESSAGE_FROM} WHERE m.conv = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3)
  UNION ALL
  (SELECT 'update', u.conv, u.seq, u.id, u.by_id, u.by_name, u.text, NULL::jsonb, u.ts,
     NULL::bigint, NULL::boolean, NULL::jsonb, NULL::bigint, NULL::bigint,
     NULL::text, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::boolean, u.kind, u.emoji, u.on_
   FROM chat_updates AS u WHERE u.conv = $1 AND u.seq > $2 ORDER BY u.seq LIMIT $3)
  ORDER BY seq LIMIT $3`;

type LogRow = MessageRow & Pick<UpdateRow, 'kind' | 'emoji' | 'on_'> & { type: 'msg' | 'update' };

const rowToEvent = (row: LogRow): LogEvent =>
  row.type === 'msg'
    ? messageFromRow(row)
    : updateFromRow({ conv: row.conv, seq: row.seq, id: row.id, by_id: row.sender, by_name: row.sender_name, ts: row.ts, kind: row.kind, text: row.text, emoji: row.emoji, on_: row.on_ });

/** Longest failure text kept with a queued webhook. */
const MAX_ERROR_CHARS = 1000;

/** Error codes that mean "the database is not reachable right now", not "this request is wrong". */
const UNREACHABLE_CODES = new Set([
  // postgres.js
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  // node sockets and DNS
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // SQLSTATE: read-only transaction (a failover left us on a standby)
  '25006',
]);

export function isUnavailableError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  // SQLSTATE classes 08 (connection exception), 53 (insufficient resources, e.g. too many
  // connections) and 57P (the server is shutting down or starting up).
  return UNREACHABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P');
}

/** Deadlock or serialization failure: the transaction was rolled back and can simply run again. */
const isRetryable = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
};

export interface PostgresStoreOptions {
  /** Connections in the pool. */
  max?: number;
  /** Largest number of appends and changes sent in one statement. */
  maxBatch?: number;
  /** Seconds to wait for a connection before an operation fails as unavailable. */
  connectTimeout?: number;
  /** Called after each committed write batch: how many appends and changes it held, and its round trip (ms). */
  onBatch?: (size: number, ms: number) => void;
}

type WriteItem = { op: 'append'; input: AppendInput } | { op: 'change'; input: ChangeInput };
type WriteResult = AppendResult | ChangeResult;
/** What the batcher hands back per item: a result, or the error of just that item. */
type Outcome = { ok: true; result: WriteResult } | { ok: false; error: unknown };

interface WriteRow {
  r_kind: string;
  r_seq: string | null;
  r_ts: string | null;
  r_row: (MessageRow & QuoteRow) | null;
}

/** An item of a `chat_write` batch, as the function reads it. */
function toPayload(item: WriteItem): Record<string, unknown> {
  if (item.op === 'append') {
    const { input } = item;
    return { op: 'append', conv: input.conv, id: input.id, sender: input.from.id, name: input.from.name, text: input.text, file: input.file, ts: input.ts, reply: input.reply };
  }
  const { input } = item;
  const { change } = input;
  return {
    op: 'change',
    conv: input.conv,
    id: input.id,
    by: input.by.id,
    byName: input.by.name,
    authority: input.authority,
    kind: change.kind,
    text: change.kind === 'edit' ? change.text : undefined,
    emoji: change.kind === 'react' ? change.emoji : undefined,
    on: change.kind === 'react' ? change.on : undefined,
    ts: input.ts,
  };
}

function toResult(item: WriteItem, row: WriteRow): WriteResult {
  const kind = row.r_kind;
  const seq = Number(row.r_seq);
  const ts = Number(row.r_ts);
  if (item.op === 'append') {
    if (kind === 'stored') {
      const reply = row.r_row ? quoteFromRow(row.r_row, row.r_row.reply_seq) : undefined;
      return { kind: 'stored', message: messageFromInput(item.input, seq, ts, reply) };
    }
    if (kind === 'duplicate') return { kind: 'duplicate', seq, ts };
    if (kind === 'conflict' || kind === 'reply_not_found') return { kind };
  } else {
    const { input } = item;
    if (kind === 'stored') return { kind: 'stored', update: updateFrame(input.conv, seq, input.id, input.by, ts, input.change), message: messageFromRow(row.r_row!) };
    if (kind === 'unchanged') return { kind: 'unchanged', seq, ts };
    if (kind === 'forbidden:not_author') return { kind: 'forbidden', reason: 'not_author' };
    if (kind === 'forbidden:deleted') return { kind: 'forbidden', reason: 'deleted' };
    if (kind === 'not_found' || kind === 'too_many_reactions') return { kind };
  }
  throw new Error(`chat_write answered ${kind} for an ${item.op}`);
}

interface WebhookRow {
  qid: string;
  id: string;
  conv: string;
  type: WebhookEventType;
  ts: string;
  data: MessageRow | MemberRow;
  attempts: number;
  next_attempt_at: string;
}

function toQueued(row: WebhookRow): QueuedWebhook {
  const data = row.type === 'member.joined' ? memberFromRow(row.data as MemberRow) : messageFromRow(row.data as MessageRow);
  const event: WebhookEvent = { id: row.id, type: row.type, conv: row.conv, ts: Number(row.ts), data };
  return { id: row.id, event, attempts: Number(row.attempts) };
}

export class PostgresStore implements Store {
  private readonly _batcher: Batcher<WriteItem, Outcome>;
  /** Webhook event ids start with this: the first 8 characters of the epoch (see rows.ts webhookLogId). */
  private readonly _hookPrefix: string;
  private _webhooks = false;

  private constructor(
    private readonly _sql: Sql,
    private readonly _epoch: string,
    /** The schema version found in the database after migrating (may be newer than ours during a rolling upgrade). */
    readonly schemaVersion: number,
    maxBatch: number,
    private readonly _onBatch: ((size: number, ms: number) => void) | undefined,
  ) {
    this._hookPrefix = `${_epoch.slice(0, 8)}/`;
    this._batcher = new Batcher((batch) => this._writeBatch(batch), maxBatch);
  }

  /** Connects, migrates the schema (idempotent, safe when several relays start at once) and loads the epoch. */
  static async connect(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql: Sql = postgres(url, {
      max: options.max ?? 10,
      connect_timeout: options.connectTimeout ?? 5,
      // Notices like "relation already exists, skipping" are not worth a log line.
      onnotice: () => undefined,
      // Otherwise a short outage would leave idle sockets that fail the next query.
      idle_timeout: 60,
    });
    try {
      const schemaVersion = await migrate(sql);
      const [row] = await sql<{ value: string }[]>`SELECT value FROM chat_meta WHERE key = 'epoch'`;
      if (!row) throw new Error('chat_meta has no epoch');
      return new PostgresStore(sql, row.value, schemaVersion, options.maxBatch ?? 1000, options.onBatch);
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => undefined);
      if (isUnavailableError(error)) throw new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
      throw error;
    }
  }

  async epoch(): Promise<string> {
    return this._epoch;
  }

  async append(input: AppendInput): Promise<AppendResult> {
    const outcome = await this._batcher.add({ op: 'append', input });
    if (!outcome.ok) throw outcome.error;
    return outcome.result as AppendResult;
  }

  async change(input: ChangeInput): Promise<ChangeResult> {
    const outcome = await this._batcher.add({ op: 'change', input });
    if (!outcome.ok) throw outcome.error;
    return outcome.result as ChangeResult;
  }

  async range(conv: string, after: number, limit: number): Promise<Page<LogEvent>> {
    const rows = await this._guard(this._sql.unsafe<LogRow[]>(LOG_QUERY, [conv, after, limit + 1], { prepare: true }));
    return { messages: rows.slice(0, limit).map(rowToEvent), more: rows.length > limit };
  }

  async before(conv: string, before: number, limit: number): Promise<Page> {
    const rows = await this._guard(
      this._sql<MessageRow[]>`SELECT ${this._sql.unsafe(MESSAGE_COLUMNS)} FROM ${this._sql.unsafe(MESSAGE_FROM)}
        WHERE m.conv = ${conv} AND m.seq < ${before} ORDER BY m.seq DESC LIMIT ${limit + 1}`,
    );
    return { messages: rows.slice(0, limit).reverse().map(messageFromRow), more: rows.length > limit };
  }

  async message(conv: string, id: string): Promise<StoredMessage | null> {
    const [row] = await this._guard(
      this._sql<MessageRow[]>`SELECT ${this._sql.unsafe(MESSAGE_COLUMNS)} FROM ${this._sql.unsafe(MESSAGE_FROM)} WHERE m.conv = ${conv} AND m.id = ${id}`,
    );
    return row ? messageFromRow(row) : null;
  }

  async head(conv: string): Promise<number> {
    const [row] = await this._guard(this._sql<{ head: string }[]>`SELECT head FROM chat_conversations WHERE id = ${conv}`);
    return Number(row?.head ?? 0);
  }

  async addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    const [row] = await this._guard(
      this._sql<{ r_user: string; r_name: string; r_delivered: string; r_read: string; r_since: string; r_seen: string | null; r_new: boolean }[]>`
        SELECT * FROM chat_join(${conv}, ${user.id}, ${user.name}, ${this._webhooks}, ${this._hookPrefix}, ${Date.now()})`,
    );
    if (!row) throw new Error(`chat_join(${conv}, ${user.id}) returned no row`);
    const member = memberFromRow({ user: row.r_user, name: row.r_name, delivered: row.r_delivered, read: row.r_read, since: row.r_since, seen: row.r_seen });
    return { member, isNew: row.r_new };
  }

  async setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    // Compare-and-set instead of a locking transaction: two round trips, no lock held
    // between them, and a concurrent receipt from another instance just causes a retry.
    for (let attempt = 0; ; attempt++) {
      const [row] = await this._guard(this._sql<(MemberRow & { head: string | null })[]>`
        SELECT m.user_id AS "user", m.name, m.delivered, m.read, m.since, m.seen, c.head
        FROM chat_members AS m LEFT JOIN chat_conversations AS c ON c.id = m.conv
        WHERE m.conv = ${conv} AND m.user_id = ${userId}`);
      if (!row) return null;
      const current = memberFromRow(row);
      const next = advanceCursor(current, update, Number(row.head ?? 0));
      if (!next) return null;
      const updated = await this._guard(this._sql`
        UPDATE chat_members SET delivered = ${next.delivered}, read = ${next.read}
        WHERE conv = ${conv} AND user_id = ${userId} AND delivered = ${current.delivered} AND read = ${current.read}`);
      if (updated.count === 1) return next;
      if (attempt >= 20) throw new Error(`setCursor(${conv}, ${userId}) kept racing after ${attempt + 1} attempts`);
    }
  }

  async members(conv: string): Promise<Member[]> {
    const rows = await this._guard(
      this._sql<MemberRow[]>`
        SELECT mb.user_id AS "user", mb.name, mb.delivered, mb.read, mb.since, mb.seen, b.user_id IS NOT NULL AS banned
        FROM chat_members AS mb
        LEFT JOIN chat_bans AS b ON b.conv = mb.conv AND b.user_id = mb.user_id AND (b.until IS NULL OR b.until > ${Date.now()})
        WHERE mb.conv = ${conv} ORDER BY mb.user_id`,
    );
    return rows.map(memberFromRow);
  }

  async setSeen(conv: string, userId: string, ts: number): Promise<void> {
    await this._guard(this._sql`
      UPDATE chat_members SET seen = ${ts} WHERE conv = ${conv} AND user_id = ${userId} AND (seen IS NULL OR seen < ${ts})`);
  }

  async ban(ban: Ban): Promise<void> {
    await this._guard(this._sql`
      INSERT INTO chat_bans (conv, user_id, until) VALUES (${ban.conv}, ${ban.user}, ${ban.until ?? null})
      ON CONFLICT (conv, user_id) DO UPDATE SET until = EXCLUDED.until`);
  }

  async unban(conv: string, userId: string): Promise<boolean> {
    const result = await this._guard(this._sql`DELETE FROM chat_bans WHERE conv = ${conv} AND user_id = ${userId}`);
    return result.count > 0;
  }

  async banOf(conv: string, userId: string, now: number): Promise<Ban | null> {
    const [row] = await this._guard(this._sql<{ until: string | null }[]>`
      SELECT until FROM chat_bans WHERE conv = ${conv} AND user_id = ${userId} AND (until IS NULL OR until > ${now})`);
    if (!row) return null;
    return row.until === null ? { conv, user: userId } : { conv, user: userId, until: Number(row.until) };
  }

  enableWebhooks(): void {
    this._webhooks = true;
  }

  async claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<QueuedWebhook[]> {
    // SKIP LOCKED: a head another relay is claiming right now is passed over, not waited for;
    // one it claimed and committed no longer passes the lease test when re-checked under the lock.
    const rows = await this._guard(this._sql<WebhookRow[]>`
      UPDATE chat_webhooks AS w SET lease_owner = ${owner}, lease_until = ${now + leaseMs}
      WHERE w.qid IN (
        SELECT h.qid FROM chat_webhooks AS h
        WHERE h.is_head AND h.next_attempt_at <= ${now} AND (h.lease_until IS NULL OR h.lease_until <= ${now})
        ORDER BY h.next_attempt_at, h.qid LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING w.qid, w.id, w.conv, w.type, w.ts, w.data, w.attempts, w.next_attempt_at`);
    rows.sort((a, b) => Number(a.next_attempt_at) - Number(b.next_attempt_at) || Number(a.qid) - Number(b.qid));
    return rows.map(toQueued);
  }

  async completeWebhook(id: string, owner: string): Promise<void> {
    await this._guard(this._sql`SELECT chat_webhook_done(${id}, ${owner})`);
  }

  async failWebhook(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    await this._guard(this._sql`
      UPDATE chat_webhooks SET attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
        next_attempt_at = ${retryAt}, last_error = ${error.slice(0, MAX_ERROR_CHARS)}
      WHERE id = ${id} AND lease_owner = ${owner}`);
  }

  async webhookBacklog(): Promise<number> {
    const [row] = await this._guard(this._sql<{ n: string }[]>`SELECT count(*) AS n FROM chat_webhooks`);
    return Number(row?.n ?? 0);
  }

  async close(): Promise<void> {
    await this._batcher.close();
    await this._sql.end({ timeout: 5 });
  }

  /** Appends a batch as one statement. Public for benchmarks. */
  async appendBatch(batch: readonly AppendInput[]): Promise<AppendResult[]> {
    return (await this.writeBatch(batch.map((input) => ({ op: 'append' as const, input })))) as AppendResult[];
  }

  /** Appends and changes, in order, as one statement (one transaction). Public for tests and benchmarks. */
  async writeBatch(batch: readonly WriteItem[]): Promise<WriteResult[]> {
    const payload = JSON.stringify(batch.map(toPayload));
    for (let attempt = 0; ; attempt++) {
      try {
        const started = performance.now();
        const rows = await this._sql<WriteRow[]>`
          SELECT r_kind, r_seq, r_ts, r_row
          FROM chat_write(${payload}::text::jsonb, ${this._webhooks}, ${this._hookPrefix}, ${Limits.maxReactionsPerMessage}) WITH ORDINALITY AS r
          ORDER BY r.ordinality`;
        if (rows.length !== batch.length) throw new Error(`chat_write returned ${rows.length} rows for ${batch.length} items`);
        this._onBatch?.(batch.length, performance.now() - started);
        return rows.map((row, i) => toResult(batch[i]!, row));
      } catch (error) {
        if (isRetryable(error) && attempt < 5) continue;
        throw error;
      }
    }
  }

  private async _writeBatch(batch: WriteItem[]): Promise<Outcome[]> {
    try {
      return (await this.writeBatch(batch)).map((result) => ({ ok: true, result }));
    } catch (error) {
      if (isUnavailableError(error)) {
        const unavailable = new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
        return batch.map(() => ({ ok: false, error: unavailable }));
      }
      if (batch.length === 1) return [{ ok: false, error }];
      // One bad item (e.g. text PostgreSQL cannot hold, like U+0000) must not fail the
      // other senders' messages: the whole statement rolled back, so retry them one by one.
      const outcomes: Outcome[] = [];
      for (const item of batch) {
        const [single] = await this._writeBatch([item]);
        outcomes.push(single!);
      }
      return outcomes;
    }
  }

  private async _guard<T>(query: Promise<T>): Promise<T> {
    try {
      return await query;
    } catch (error) {
      if (isUnavailableError(error)) throw new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
      throw error;
    }
  }
}

async function migrate(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    // Transaction-scoped: released by COMMIT/ROLLBACK, even if this process dies meanwhile.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS chat_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const applied = new Set((await tx<{ version: number }[]>`SELECT version FROM chat_migrations`).map((r) => r.version));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO chat_migrations (version) VALUES (${migration.version})`;
      applied.add(migration.version);
    }
    return Math.max(...applied);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${(error as { code?: string }).code ?? error.name}: ${error.message}`;
  return String(error);
}
