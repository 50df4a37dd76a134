/**
 * Who a connection or an upload is, and which conversations it may use. Tokens are HS256
 * JWTs signed by the site's backend with the relay's secret (see `npm run token`); with no
 * secret configured the relay runs in open mode and believes the name the client gives.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { ID_PATTERN, type User } from '../protocol/index.js';

export interface Identity {
  user: User;
  /** Conversation patterns: exact ids, or prefixes ending in `*`; `*` alone means all. */
  convs: readonly string[];
}

export class AuthError extends Error {
  override name = 'AuthError';
}

const ALL = ['*'] as const;

export class Auth {
  private readonly _key: Uint8Array | null;

  constructor(secret: string | undefined) {
    this._key = secret ? new TextEncoder().encode(secret) : null;
  }

  get openMode(): boolean {
    return this._key === null;
  }

  /** Resolves the identity a token names, or throws AuthError saying why it is refused. */
  async verify(token: string): Promise<Identity> {
    if (!this._key) throw new AuthError('this relay runs in open mode and takes no tokens');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this._key, { algorithms: ['HS256'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new AuthError('token signature is invalid');
      throw new AuthError(`token rejected: ${error instanceof Error ? error.message : String(error)}`);
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) {
      throw new AuthError('token has no valid sub (user id)');
    }
    const name = typeof payload['name'] === 'string' ? storableName(payload['name']) || sub : sub;
    const convsClaim = payload['convs'];
    const convs = Array.isArray(convsClaim) ? convsClaim.filter((c): c is string => typeof c === 'string') : [];
    return { user: { id: sub, name }, convs };
  }

  /** Open mode: the client names itself and may use every conversation. */
  open(userId: string, name: string | undefined): Identity {
    return { user: { id: userId, name: name?.trim() || userId }, convs: ALL };
  }

  /** Signs a token the way a site's backend would; used by `npm run token` and the tests. */
  async sign(claims: { sub: string; name?: string; convs: string[] }, expiresIn: string | number = '24h'): Promise<string> {
    if (!this._key) throw new AuthError('no secret configured (CHAT_JWT_SECRET)');
    const jwt = new SignJWT({ convs: claims.convs, ...(claims.name ? { name: claims.name } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub)
      .setIssuedAt()
      .setExpirationTime(expiresIn);
    return jwt.sign(this._key);
  }
}

/** A display name from a token, made safe to store: no control characters or unpaired surrogates, at most 100 characters. */
function storableName(raw: string): string {
  return Array.from(raw.replace(/[\u0000-\u001f\u007f]/g, '').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'))
    .slice(0, 100)
    .join('')
    .trim();
}

export function canAccess(identity: Identity, conv: string): boolean {
  return identity.convs.some((pattern) =>
    pattern.endsWith('*') ? conv.startsWith(pattern.slice(0, -1)) : pattern === conv,
  );
}
