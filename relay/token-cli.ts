#!/usr/bin/env node
/**
 * Prints a signed token for the configured secret, as a site's backend would make one:
 *   CHAT_JWT_SECRET=… npm run token -- --user alice --name Alice --conv 'support-*' [--ttl 24h] [--role moderator]
 */
import { parseArgs } from 'node:util';
import { JwtVerifier } from './auth/jwt.js';

const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    name: { type: 'string' },
    conv: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '24h' },
    secret: { type: 'string' },
    role: { type: 'string' },
  },
});
const secret = values.secret ?? process.env['CHAT_JWT_SECRET'];
if (!secret || !values.user) {
  console.error("usage: CHAT_JWT_SECRET=… npm run token -- --user ID [--name NAME] --conv 'pattern' [--conv …] [--ttl 24h] [--role moderator]");
  process.exit(2);
}
const convs = (values.conv ?? []).flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
if (convs.length === 0) {
  console.error('give at least one --conv (an id, a prefix ending in *, or * for all)');
  process.exit(2);
}
// The relay knows one role (v1.1): a moderator may delete anyone's message and ban. Anything
// else would be signed and then silently treated as a member, so it is refused here.
if (values.role !== undefined && values.role !== 'moderator') {
  console.error(`--role takes "moderator" (the only role the relay knows), got ${JSON.stringify(values.role)}`);
  process.exit(2);
}
let verifier: JwtVerifier;
try {
  verifier = new JwtVerifier(secret);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const token = await verifier.sign({ sub: values.user, name: values.name, convs, role: values.role }, values.ttl);
console.log(token);
