/**
 * Moved to relay/files/ (store.ts, policy.ts). This re-export keeps main.ts's import working
 * until main.ts imports relay/files/store.js itself; then delete this file.
 */
export { FileStore } from './files/store.js';
