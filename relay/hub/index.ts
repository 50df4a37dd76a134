/** The relay's domain, as the transport and main.ts see it. */
export { DEFAULT_LIMITS, type HubLimits, type Rate } from './admission.js';
export { AuthError, Authenticator, canAccess, DEFAULT_MAX_TOKEN_TTL_MS, Role, type Identity, type TokenClaims, type TokenVerifier } from './handshake.js';
export { Hub, type HubOptions } from './hub.js';
export {
  noObserver,
  SendResult,
  systemClock,
  type Clock,
  type ConnectionInfo,
  type FileCatalog,
  type HubObserver,
  type Logger,
  type StoredFile,
  type WebSocketLike,
} from './ports.js';
export { DEFAULT_PRESENCE_TIMINGS, MIN_HEARTBEATS_PER_STALE, type PresenceTimings } from './presence.js';
export { SERVER_USER, type CommandResult, type ServerCommands } from './server-commands.js';
export type { Session } from './session.js';
