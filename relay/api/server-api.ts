/**
 * The server API (PROTOCOL.md "Server API"): the site's backend posts, reads, edits, deletes,
 * lists members and bans over HTTP + JSON, authorised by CHAT_API_KEY. This file knows no
 * transport: relay/http/api.ts copies a uWS request into an ApiRequest and writes the
 * ApiAnswer back. The rules themselves are the hub's (ServerCommands), so an API post is
 * stored, sequenced and fanned out on every relay exactly like a WebSocket `send`.
 *
 * Order of checks: the key (401, before anything about the request is revealed), the route
 * (404, or 405 with Allow), the body and query (400, or 413 for a too-long text), then the
 * command's own refusals (its code mapped to a status).
 */
import * as v from 'valibot';
import { ApiBan, ApiEditMessage, ApiPostMessage, ErrorCode, Limits, TEXT_TOO_LONG } from '../../protocol/index.js';
import type { BearerSecret } from '../http/bearer.js';
import type { Logger } from '../hub/ports.js';
import type { CommandResult, ServerCommands } from '../hub/server-commands.js';

/** A request as the transport hands it over (everything copied; nothing transport-specific). */
export interface ApiRequest {
  /** Upper case: GET, HEAD, POST, PUT, PATCH, DELETE… */
  method: string;
  /** The path as received (percent-encoded), e.g. /api/v1/conversations/c1/messages. */
  path: string;
  /** The query string without `?`. */
  query: string;
  authorization: string;
  /** The raw body (empty when none); the transport bounds its size (MAX_API_BODY_BYTES). */
  body: Buffer;
}

export interface ApiAnswer {
  status: number;
  /** A JSON body; absent for 204. */
  body?: object;
  headers?: Record<string, string>;
}

/** The largest request body the API reads; larger ones get 413 before being read. */
export const MAX_API_BODY_BYTES = Limits.maxFrameBytes;

export const API_PREFIX = '/api/v1/';

/** HTTP status for each refusal code of the commands. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.badFrame]: 400,
  [ErrorCode.unauthorized]: 401,
  [ErrorCode.forbidden]: 403,
  [ErrorCode.notFound]: 404,
  [ErrorCode.conflict]: 409,
  [ErrorCode.tooLarge]: 413,
  [ErrorCode.rateLimited]: 429,
  [ErrorCode.tooMany]: 429,
  [ErrorCode.unavailable]: 503,
  [ErrorCode.internal]: 500,
};

export function apiError(status: number, code: ErrorCode, message: string, headers?: Record<string, string>): ApiAnswer {
  return { status, body: { error: { code, message } }, ...(headers ? { headers } : {}) };
}

function refusal(result: { code: ErrorCode; message: string }): ApiAnswer {
  return apiError(STATUS_OF[result.code] ?? 400, result.code, result.message);
}

/** Decodes a body with one of the protocol's API schemas (house rule 1: no validation written here). */
function decodeBody<S extends v.GenericSchema>(schema: S, body: Buffer, { emptyIs }: { emptyIs?: unknown } = {}): { ok: true; value: v.InferOutput<S> } | { ok: false; answer: ApiAnswer } {
  let input: unknown = emptyIs;
  if (body.length > 0 || emptyIs === undefined) {
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return { ok: false, answer: apiError(400, ErrorCode.badFrame, 'the body must be a JSON object') };
    }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, answer: apiError(400, ErrorCode.badFrame, 'the body must be a JSON object') };
  }
  const result = v.safeParse(schema, input);
  if (result.success) return { ok: true, value: result.output };
  if (result.issues.some((issue) => issue.message === TEXT_TOO_LONG)) return { ok: false, answer: apiError(413, ErrorCode.tooLarge, TEXT_TOO_LONG) };
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return { ok: false, answer: apiError(400, ErrorCode.badFrame, path ? `${path}: ${issue.message}` : issue.message) };
}

/** A non-negative integer query parameter, or undefined when absent; null when malformed. */
function whole(params: URLSearchParams, name: string): number | undefined | null {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : null;
}

type Route =
  | { name: 'messages'; conv: string }
  | { name: 'message'; conv: string; id: string }
  | { name: 'members'; conv: string }
  | { name: 'ban'; conv: string; user: string };

const ALLOWED: Record<Route['name'], string> = {
  messages: 'GET, HEAD, POST',
  message: 'PATCH, DELETE',
  members: 'GET, HEAD',
  ban: 'PUT, DELETE',
};

function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** The route of a path under /api/v1/, or null. Ids are checked by the commands (bad_frame). */
function route(path: string): Route | null {
  if (!path.startsWith(API_PREFIX)) return null;
  const parts = path.slice(API_PREFIX.length).replace(/\/$/, '').split('/').map(decodeSegment);
  if (parts.some((p) => p === null || p === '') || parts[0] !== 'conversations') return null;
  const [, conv, kind, id] = parts as string[];
  if (conv === undefined) return null;
  if (kind === 'messages' && parts.length === 3) return { name: 'messages', conv };
  if (kind === 'messages' && parts.length === 4) return { name: 'message', conv, id: id! };
  if (kind === 'members' && parts.length === 3) return { name: 'members', conv };
  if (kind === 'bans' && parts.length === 4) return { name: 'ban', conv, user: id! };
  return null;
}

export interface ServerApiOptions {
  key: BearerSecret;
  commands: ServerCommands;
  logger: Logger;
}

export class ServerApi {
  constructor(private readonly _o: ServerApiOptions) {}

  async handle(request: ApiRequest): Promise<ApiAnswer> {
    const started = Date.now();
    const answer = await this._answer(request);
    // Method, path and status only: never the Authorization header, never a body.
    const line = { method: request.method, path: request.path, status: answer.status, ms: Date.now() - started };
    if (answer.status >= 500) this._o.logger.warn(line, 'server API request failed');
    else this._o.logger.debug(line, 'server API request');
    return answer;
  }

  private async _answer(request: ApiRequest): Promise<ApiAnswer> {
    if (!this._o.key.matches(request.authorization)) {
      return apiError(401, ErrorCode.unauthorized, 'the server API needs Authorization: Bearer <CHAT_API_KEY>', { 'WWW-Authenticate': 'Bearer' });
    }
    const target = route(request.path);
    if (!target) return apiError(404, ErrorCode.notFound, `no API route ${request.path}`);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const commands = this._o.commands;
    const params = new URLSearchParams(request.query);
    switch (`${method} ${target.name}`) {
      case 'POST messages': {
        const { conv } = target as Extract<Route, { name: 'messages' }>;
        const body = decodeBody(ApiPostMessage, request.body);
        if (!body.ok) return body.answer;
        return done(await commands.post(conv, body.value), (r) => ({ status: r.created ? 201 : 200, body: { id: r.id, seq: r.seq, ts: r.ts } }));
      }
      case 'GET messages': {
        const { conv } = target as Extract<Route, { name: 'messages' }>;
        const before = whole(params, 'before');
        const after = whole(params, 'after');
        const limit = whole(params, 'limit');
        if (before === null || after === null || limit === null) return apiError(400, ErrorCode.badFrame, 'before, after and limit must be whole numbers');
        if (before !== undefined && after !== undefined) return apiError(400, ErrorCode.badFrame, 'give before or after, not both');
        if (limit !== undefined && (limit < 1 || limit > Limits.maxHistoryLimit)) return apiError(400, ErrorCode.badFrame, `limit must be 1 to ${Limits.maxHistoryLimit}`);
        const page = { limit: limit ?? Limits.defaultHistoryLimit, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) };
        return done(await commands.history(conv, page), (r) => ({ status: 200, body: { messages: r.messages, more: r.more } }));
      }
      case 'PATCH message': {
        const { conv, id } = target as Extract<Route, { name: 'message' }>;
        const body = decodeBody(ApiEditMessage, request.body);
        if (!body.ok) return body.answer;
        return done(await commands.change(conv, id, { kind: 'edit', text: body.value.text }), (r) => ({ status: 200, body: { seq: r.seq } }));
      }
      case 'DELETE message': {
        const { conv, id } = target as Extract<Route, { name: 'message' }>;
        return done(await commands.change(conv, id, { kind: 'delete' }), (r) => ({ status: 200, body: { seq: r.seq } }));
      }
      case 'GET members': {
        return done(await commands.members(target.conv), (r) => ({ status: 200, body: { members: r.members } }));
      }
      case 'PUT ban': {
        const { conv, user } = target as Extract<Route, { name: 'ban' }>;
        // An empty body bans for good, as `{}` does.
        const body = decodeBody(ApiBan, request.body, { emptyIs: {} });
        if (!body.ok) return body.answer;
        return done(await commands.ban(conv, user, body.value.until), () => ({ status: 204 }));
      }
      case 'DELETE ban': {
        const { conv, user } = target as Extract<Route, { name: 'ban' }>;
        return done(await commands.unban(conv, user), () => ({ status: 204 }));
      }
      default:
        return apiError(405, ErrorCode.badFrame, `${request.method} is not allowed here; allowed: ${ALLOWED[target.name]}`, { Allow: ALLOWED[target.name] });
    }
  }
}

function done<T>(result: CommandResult<T>, ok: (value: T) => ApiAnswer): ApiAnswer {
  return result.ok ? ok(result as T) : refusal(result);
}
