/**
 * Moved to relay/http/ (app.ts and one file per route). This re-export keeps main.ts's
 * import working until main.ts imports relay/http/app.js itself; then delete this file.
 */
export { RelayServer, type ServerOptions } from './http/app.js';
