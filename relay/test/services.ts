// The test services live in tools/services.ts (the load harness and `npm run cluster` use
// them too, and tools may not import relay/test/); tests keep importing them from here.
export * from '../../tools/services.js';
