/**
 * Defect 3 of the hardening issue: connection caps per address (hello-less ones too) and
 * per user, joins per connection, new conversations per user per minute, and TRUST_PROXY so
 * that per-address caps count the clients behind a reverse proxy.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { CloseCode, ErrorCode } from '../../../protocol/index.js';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';
import { connections, isError, mb, rssBytes, timeToAck, watchRss } from './support.js';

/** Opens a raw socket (optionally claiming an X-Forwarded-For) and resolves how it ended up: open, or closed with a code. */
async function openSocket(url: string, forwardedFor?: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url, forwardedFor ? { headers: { 'X-Forwarded-For': forwardedFor } } : {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, closed };
}

/** Whether the relay closed the socket within `ms`, and with which code. */
const closedWithin = (socket: { closed: Promise<number> }, ms = 1500) =>
  Promise.race([socket.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))]);

describe('attack - connection caps', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { HELLO_TIMEOUT_MS: '30000' } });
  });
  after(() => relay.dispose());

  test('caps - 3,000 hello-less sockets from one address: 20 are held, the rest closed 4430 at once; others still served', async () => {
    const baseline = await rssBytes(relay);
    const peak = watchRss(relay);
    const sockets = await Promise.all(
      Array.from({ length: 3000 }, () => openSocket(relay.wsUrl).catch(() => null)),
    );
    const codes = await Promise.all(sockets.map((s) => (s ? closedWithin(s, 2000) : Promise.resolve(-1))));
    const stillOpen = codes.filter((c) => c === null).length;
    const refused = codes.filter((c) => c === CloseCode.tooManyConnections).length;
    const ackMs = await timeToAck(relay, { user: 'bystander' }).catch((e: Error) => e);
    const growth = (await peak.stop()) - baseline;
    console.log(`hello-less flood: ${stillOpen} held, ${refused} refused with 4430, RSS +${mb(growth)}`);
    assert.equal(stillOpen, 20, 'only MAX_UNAUTHENTICATED_PER_IP sockets are held');
    assert.equal(refused, 3000 - 20);
    // The bystander shares the address: it got in once hello-less sockets went; here all 20 are still waiting.
    assert.ok(ackMs instanceof Error, 'the 21st hello-less socket of the same address is refused too');
    for (const socket of sockets) socket?.ws.terminate();
    await waitFor(async () => (await connections(relay)) === 0);
    assert.ok((await timeToAck(relay, { user: 'bystander' })) < 1000);
  });

  test('caps - the 51st connection from one address and the 21st of one user are refused with too_many, 4430', async () => {
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) clients.push(await TestClient.login(relay.wsUrl, { user: 'many' }));
    const extra = await TestClient.login(relay.wsUrl, { user: 'many' });
    assert.ok(extra.frames.some(isError(ErrorCode.tooMany)));
    assert.equal((await extra.closed).code, CloseCode.tooManyConnections);
    for (let i = 20; i < 50; i++) clients.push(await TestClient.login(relay.wsUrl, { user: `other-${i}` }));
    const fiftyFirst = await TestClient.connect(relay.wsUrl);
    assert.equal((await fiftyFirst.closed).code, CloseCode.tooManyConnections);
    clients.pop()!.close();
    await waitFor(async () => (await connections(relay)) === 49);
    const again = await TestClient.login(relay.wsUrl, { user: 'fits-again' });
    assert.ok(again.frames.some((f) => f.type === 'welcome'), 'a slot freed is a slot usable');
    for (const client of [...clients, again]) client.close();
    await waitFor(async () => (await connections(relay)) === 0);
  });

  test('caps - a user joins at most 30 new conversations a minute; conversations already joined do not count', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'joiner' });
    for (let i = 0; i < 30; i++) await client.join(`new-${i}`);
    client.send({ type: 'join', conv: 'new-30', ref: 'j30' });
    const refused = await client.next((f) => 'ref' in f && f.ref === 'j30');
    assert.ok(refused.type === 'error' && refused.code === ErrorCode.rateLimited, JSON.stringify(refused));
    await client.join('new-0');
    client.close();
  });
});

describe('attack - join flood', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { NEW_CONVERSATIONS_PER_MINUTE: '1000' } });
  });
  after(() => relay.dispose());

  test('caps - joins beyond 100 on one connection are refused with too_many; leaving frees a slot', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'collector' });
    for (let i = 0; i < 100; i++) client.send({ type: 'join', conv: `room-${i}`, ref: `j${i}` });
    await client.until((frames) => frames.filter((f) => f.type === 'joined').length === 100, 20_000);
    client.send({ type: 'join', conv: 'room-100', ref: 'j100' });
    const refused = await client.next((f) => 'ref' in f && f.ref === 'j100');
    assert.ok(refused.type === 'error' && refused.code === ErrorCode.tooMany, JSON.stringify(refused));
    assert.ok(client.isOpen, 'a refused join does not close the connection');
    client.send({ type: 'leave', conv: 'room-0' });
    await client.join('room-100');
    client.close();
  });
});

describe('attack - join flood with default limits', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('join flood - 10,000 joins of different conversations: at most 30 member records a minute persist, relay stays responsive', async () => {
    const baseline = await rssBytes(relay);
    const peak = watchRss(relay);
    let sent = 0;
    const started = performance.now();
    const ackTimes: number[] = [];
    // The attacker reconnects whenever it is closed and keeps joining new conversations.
    while (sent < 10_000 && performance.now() - started < 8000) {
      const attacker = await TestClient.login(relay.wsUrl, { user: 'flooder' });
      for (let i = 0; i < 500 && attacker.isOpen; i++) attacker.send({ type: 'join', conv: `flood-${sent++}` });
      await Promise.race([attacker.closed, new Promise((r) => setTimeout(r, 300))]);
      attacker.ws.terminate();
      if (ackTimes.length < 4) ackTimes.push(await timeToAck(relay));
    }
    const growth = (await peak.stop()) - baseline;
    const db = new Database(join(relay.dataDir, 'chat.db'), { readonly: true });
    const rows = (db.prepare("SELECT count(*) AS n FROM members WHERE user = 'flooder'").get() as { n: number }).n;
    db.close();
    console.log(`join flood: ${sent} joins sent, ${rows} member records, RSS +${mb(growth)}, fresh client acks in ${ackTimes.map((t) => t.toFixed(0)).join('/')} ms`);
    assert.ok(rows <= 30, `${rows} member records persisted`);
    // Within 1 s during the attack; one probe of four may be late on a machine busy with other
    // suites (the attack itself never holds a client out: a lockout fails every probe).
    assert.ok(ackTimes.filter((t) => t < 1000).length >= ackTimes.length - 1, `fresh clients were served in ${ackTimes.map((t) => t.toFixed(0)).join('/')} ms`);
    assert.ok(growth < 30 * 1024 * 1024, `RSS grew ${mb(growth)}`);
  });
});

describe('attack - per-address caps behind a reverse proxy', () => {
  let trusting: RelayProcess;
  let direct: RelayProcess;
  before(async () => {
    const env = { MAX_CONNECTIONS_PER_IP: '2' };
    [trusting, direct] = await Promise.all([startRelay({ env: { ...env, TRUST_PROXY: '127.0.0.1' } }), startRelay({ env })]);
  });
  after(async () => {
    await trusting.dispose();
    await direct.dispose();
  });

  test('TRUST_PROXY - a trusted proxy\'s X-Forwarded-For is the address counted; an untrusted one is ignored', async () => {
    // Documentation addresses (RFC 5737): only header values, no traffic goes there.
    const a1 = await openSocket(trusting.wsUrl, '203.0.113.7');
    const a2 = await openSocket(trusting.wsUrl, '198.51.100.1, 203.0.113.7');
    const a3 = await openSocket(trusting.wsUrl, '203.0.113.7');
    const b1 = await openSocket(trusting.wsUrl, '203.0.113.8');
    assert.deepEqual(await Promise.all([a1, a2, a3, b1].map((s) => closedWithin(s))), [null, null, CloseCode.tooManyConnections, null]);
    const d1 = await openSocket(direct.wsUrl, '203.0.113.7');
    const d2 = await openSocket(direct.wsUrl, '203.0.113.8');
    const d3 = await openSocket(direct.wsUrl, '203.0.113.9');
    assert.deepEqual(await Promise.all([d1, d2, d3].map((s) => closedWithin(s))), [null, null, CloseCode.tooManyConnections], 'without TRUST_PROXY the header is not believed');
    for (const socket of [a1, a2, a3, b1, d1, d2, d3]) socket.ws.terminate();
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
