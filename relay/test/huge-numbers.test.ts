/**
 * Numbers no store column holds: 1e300 is an integer to JavaScript, and PostgreSQL's bigint
 * refuses it. The schema now refuses seqs and times above 2^53 - 1 at the door; a client that
 * sends one in `history` (`after`, `before`) or a moderator's `ban` (`until`) must get
 * `bad_frame` with the conversation — never `internal`
 * (with an error logged each time, which a script could repeat at will). Run on SQLite and
 * on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { JwtVerifier } from '../auth/jwt.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';
import { startPostgres, type PostgresServer } from './services.js';

const SECRET = 'huge-numbers-jwt-secret-0123456789abcdef';
const HUGE = [1e300, 2 ** 64, Number.MAX_VALUE];

const byRef = (ref: string) => (f: ServerFrame) => 'ref' in f && f.ref === ref;

for (const storeKind of ['sqlite', 'postgres'] as const) {
  describe(`huge numbers - ${storeKind}`, () => {
    let pg: PostgresServer | undefined;
    let relay: RelayProcess;
    const signer = new JwtVerifier(SECRET);
    const login = async (user: string, role?: string) =>
      TestClient.login(relay.wsUrl, { token: await signer.sign({ sub: user, convs: ['*'], ...(role ? { role } : {}) }, '10m') });

    before(async () => {
      const env: Record<string, string> = { CHAT_JWT_SECRET: SECRET };
      if (storeKind === 'postgres') {
        pg = await startPostgres({ fast: true });
        env['DATABASE_URL'] = await pg.createDatabase();
      }
      relay = await startRelay({ env });
    });
    after(async () => {
      await relay?.dispose();
      await pg?.dispose();
    });

    test(`huge numbers (${storeKind}) - history after/before beyond any safe integer: bad_frame, not internal; 2^53-1 is a page`, async () => {
      const alice = await login('alice');
      await alice.join('huge');
      alice.send({ type: 'send', conv: 'huge', id: 'm1', text: 'one', ref: 's' });
      assert.equal((await alice.next(byRef('s'))).type, 'ack');
      for (const [i, n] of HUGE.entries()) {
        alice.send({ type: 'history', conv: 'huge', after: n, ref: `a${i}` });
        const afterAnswer = await alice.next(byRef(`a${i}`));
        assert.equal(afterAnswer.type === 'error' && afterAnswer.code, 'bad_frame', `after ${n}: ${JSON.stringify(afterAnswer)}`);
        alice.send({ type: 'history', conv: 'huge', before: n, ref: `b${i}` });
        const beforeAnswer = await alice.next(byRef(`b${i}`));
        assert.equal(beforeAnswer.type === 'error' && beforeAnswer.code, 'bad_frame', `before ${n}: ${JSON.stringify(beforeAnswer)}`);
      }
      const largest = Number.MAX_SAFE_INTEGER;
      alice.send({ type: 'history', conv: 'huge', after: largest, ref: 'a-max' });
      const afterPage = await alice.next(byRef('a-max'));
      assert.deepEqual(afterPage.type === 'history' && afterPage.messages, []);
      alice.send({ type: 'history', conv: 'huge', before: largest, ref: 'b-max' });
      const beforePage = await alice.next(byRef('b-max'));
      assert.deepEqual(beforePage.type === 'history' && beforePage.messages.map((m) => m.id), ['m1']);
      alice.close();
    });

    test(`huge numbers (${storeKind}) - a ban until beyond any date: refused bad_frame like the server API does, nothing stored`, async () => {
      const mod = await login('mod', 'moderator');
      for (const [i, n] of HUGE.entries()) {
        mod.send({ type: 'ban', conv: 'huge-ban', user: 'bob', until: n, ref: `ban${i}` });
        const answer = await mod.next(byRef(`ban${i}`));
        assert.equal(answer.type === 'error' && answer.code, 'bad_frame', `until ${n}: ${JSON.stringify(answer)}`);
        assert.equal(answer.type === 'error' && answer.conv, 'huge-ban');
      }
      const bob = await login('bob');
      await bob.join('huge-ban'); // not banned
      assert.equal(relay.logs.filter((line) => line.includes('"level":50')).length, 0, 'no error logged');
      mod.close();
      bob.close();
    });
  });
}
