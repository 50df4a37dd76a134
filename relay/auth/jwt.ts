/**
 * HS256 JWTs with jose: the only file that knows how tokens are signed. It checks the
 * signature, the algorithm and the time claims; what the claims mean (who, which
 * conversations, how long a token may live) is the hub's handshake (relay/hub/handshake.ts).
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AuthError, type TokenClaims, type TokenVerifier } from '../hub/handshake.js';

/** Shorter secrets can be brute-forced offline from one captured token (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

export class JwtVerifier implements TokenVerifier {
  private readonly _key: Uint8Array;

  constructor(secret: string) {
    this._key = new TextEncoder().encode(secret);
    if (this._key.byteLength < MIN_SECRET_BYTES) {
      throw new Error(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes (got ${this._key.byteLength})`);
    }
  }

  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this._key, { algorithms: ['HS256'] });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new AuthError('token signature is invalid');
      throw new AuthError(`token rejected: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Signs a token the way a site's backend would; used by `npm run token` and the tests. */
  async sign(
    claims: { sub: string; name?: string; convs: string[]; role?: string },
    expiresIn: string | number = '24h',
  ): Promise<string> {
    const { sub, ...rest } = claims;
    const body = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    return new SignJWT(body).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn).sign(this._key);
  }
}
