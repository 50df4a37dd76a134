/**
 * Who a connection or an upload is, and which conversations it may use: the ONE
 * authenticator behind the WebSocket `hello` (first and renewing) and the HTTP upload.
 *
 * Signature checking is a port (`TokenVerifier`, implemented with jose in
 * relay/auth/jwt.ts); the rules about what a verified token must say live here:
 * a valid `sub`, a mandatory `exp` no further away than the relay's maximum token lifetime,
 * the `convs` patterns, the `role`. Without a verifier the relay runs in open mode and believes
 * the name the client gives (and nobody is a moderator: anyone could claim to be one).
 */
import { ID_PATTERN, Limits, type User } from '../../protocol/index.js';

/** v1.1: a moderator (JWT claim `"role": "moderator"`) may delete anyone's message and ban users. */
export const Role = { member: 'member', moderator: 'moderator' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Identity {
  user: User;
  role: Role;
  /** Conversation patterns: exact ids, or prefixes ending in `*`; `*` alone means all. */
  convs: readonly string[];
  /** When the credentials stop being valid (ms since the epoch); null in open mode. */
  expiresAt: number | null;
}

/** What a verified token says. Signature, algorithm and `exp`/`nbf` in the past are the verifier's job. */
export interface TokenClaims {
  sub?: string;
  exp?: number;
  [claim: string]: unknown;
}

export interface TokenVerifier {
  /** Resolves the claims of a correctly signed, unexpired token; rejects with AuthError otherwise. */
  verify(token: string): Promise<TokenClaims>;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export const DEFAULT_MAX_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Clocks of the site's backend and the relay disagree a little; a token is not refused for that. */
const CLOCK_SKEW_MS = 60_000;
const ALL = ['*'] as const;

export interface AuthenticatorOptions {
  /** null = open mode. */
  verifier: TokenVerifier | null;
  maxTokenTtlMs?: number;
  now?: () => number;
}

export class Authenticator {
  private readonly _verifier: TokenVerifier | null;
  private readonly _maxTtlMs: number;
  private readonly _now: () => number;

  constructor(options: AuthenticatorOptions) {
    this._verifier = options.verifier;
    this._maxTtlMs = options.maxTokenTtlMs ?? DEFAULT_MAX_TOKEN_TTL_MS;
    this._now = options.now ?? Date.now;
  }

  get openMode(): boolean {
    return this._verifier === null;
  }

  /** The identity a token names, or AuthError saying why it is refused. */
  async fromToken(token: string): Promise<Identity> {
    if (!this._verifier) throw new AuthError('this relay runs in open mode and takes no tokens');
    if (token.length === 0) throw new AuthError('token is empty');
    if (token.length > Limits.maxTokenChars) throw new AuthError(`token is longer than ${Limits.maxTokenChars} characters`);
    const claims = await this._verifier.verify(token);
    const sub = claims.sub;
    if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) throw new AuthError('token has no valid sub (user id)');
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) {
      throw new AuthError('token has no exp: the relay takes only tokens that expire');
    }
    const expiresAt = claims.exp * 1000;
    if (expiresAt - this._now() > this._maxTtlMs + CLOCK_SKEW_MS) {
      throw new AuthError(`token expires too late: the relay takes tokens that expire within ${formatDuration(this._maxTtlMs)}`);
    }
    const name = typeof claims['name'] === 'string' ? storableName(claims['name']) || sub : sub;
    const convsClaim = claims['convs'];
    const convs = Array.isArray(convsClaim) ? convsClaim.filter((c): c is string => typeof c === 'string') : [];
    const role = claims['role'] === Role.moderator ? Role.moderator : Role.member;
    return { user: { id: sub, name }, role, convs, expiresAt };
  }

  /** Open mode: the client names itself and may use every conversation. */
  open(userId: string, name: string | undefined): Identity {
    if (!ID_PATTERN.test(userId)) throw new AuthError('user must be 1-128 characters of A-Z a-z 0-9 _ : -');
    return { user: { id: userId, name: name?.trim() || userId }, role: Role.member, convs: ALL, expiresAt: null };
  }

  /** The credentials a WebSocket `hello` carries. */
  fromHello(hello: { token?: string; user?: string; name?: string }): Promise<Identity> {
    if (this.openMode) {
      if (!hello.user) return Promise.reject(new AuthError('open mode: hello needs "user" (and optionally "name")'));
      return Promise.resolve(this.open(hello.user, hello.name));
    }
    if (hello.token === undefined) return Promise.reject(new AuthError('hello needs a token'));
    return this.fromToken(hello.token);
  }

  /** The credentials an HTTP request carries: `Authorization: Bearer …`, or `X-Chat-User` in open mode. */
  fromHttpHeaders(headers: { authorization: string; chatUser: string }): Promise<Identity> {
    if (this.openMode) {
      if (!headers.chatUser) return Promise.reject(new AuthError('X-Chat-User header missing'));
      try {
        return Promise.resolve(this.open(headers.chatUser, undefined));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization);
    if (!match) return Promise.reject(new AuthError('Authorization: Bearer <token> header missing'));
    return this.fromToken(match[1]!);
  }
}

export function canAccess(identity: Identity, conv: string): boolean {
  return identity.convs.some((pattern) =>
    pattern.endsWith('*') ? conv.startsWith(pattern.slice(0, -1)) : pattern === conv,
  );
}

/** A display name from a token, made safe to store: no control characters or unpaired surrogates, at most 100 characters. */
function storableName(raw: string): string {
  return Array.from(raw.replace(/[\u0000-\u001f\u007f]/g, '').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'))
    .slice(0, Limits.maxNameLength)
    .join('')
    .trim();
}

function formatDuration(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24} days` : hours >= 1 ? `${+hours.toFixed(2)} hours` : `${Math.round(ms / 1000)} s`;
}
