/** The relay's domain, as the transport and main.ts see it. */
export { DEFAULT_LIMITS, type HubLimits, type Rate } from './admission.js';
export { AuthError, Authenticator, canAccess, DEFAULT_MAX_TOKEN_TTL_MS, type Identity, type TokenClaims, type TokenVerifier } from './handshake.js';
export { Hub, type HubOptions } from './hub.js';
export { SendResult, systemClock, type Clock, type ConnectionInfo, type FileCatalog, type Logger, type StoredFile, type WebSocketLike } from './ports.js';
export type { Session } from './session.js';
