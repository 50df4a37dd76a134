export { Hub, SendResult, type ConnectionInfo, type Logger, type Session, type WebSocketLike } from '../hub.js';
export { AuthError, Authenticator, canAccess, type Identity } from './handshake.js';
