/**
 * Tab sharing with scripted tabs (test/fake-tabs.ts), scripted sockets and a hand-driven clock:
 * the leader's socket carries every tab's frames, and when the leader goes away the next tab
 * takes over and what was lost on the way is sent again at once, not after a request timeout.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Member } from '../../protocol/index.js';
import { Session } from './session.js';
import { FakeClock } from './test/fake-clock.js';
import { FakeSocket } from './test/fake-socket.js';
import { FakeBrowser, type FakeTab } from './test/fake-tabs.js';
import { MemoryStorage } from './test/memory-storage.js';
import type { ChatClient } from './types.js';

interface Frame {
  type: string;
  [key: string]: unknown;
}

const member = (id: string): Member => ({ id, name: id.toUpperCase(), delivered: 0, read: 0 });

/** Lets channel messages, lock grants and storage writes run (each takes a turn or two). */
async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

const sessions: Session[] = [];

function openTab(browser: FakeBrowser, clock: FakeClock, storage: MemoryStorage): { tab: FakeTab; session: Session; chat: ChatClient } {
  const tab = browser.tab();
  const session = new Session(
    { relay: 'ws://relay.test/ws', user: 'alice', name: 'Alice', storage, WebSocket: FakeSocket as unknown as typeof WebSocket },
    { clock, tabs: tab, network: { online: true, subscribe: () => () => {} } },
  );
  sessions.push(session);
  const chat = session.conversation('c1');
  void chat.start();
  return { tab, session, chat };
}

function frames(socket: FakeSocket, type: string): Frame[] {
  return socket.sentOfType(type) as Frame[];
}

function welcome(socket: FakeSocket): void {
  socket.open();
  socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
}

/**
 * Answers joins on `socket` as the relay does: of the joins of a conversation that arrived
 * since the last answer only the newest is answered (a later join supersedes an earlier one,
 * which then never gets a reply). Repeats until no join is left unhandled.
 */
async function answerJoins(socket: FakeSocket, handled: Set<unknown>, head: number): Promise<void> {
  for (;;) {
    await settle();
    const fresh = frames(socket, 'join').filter((f) => !handled.has(f.ref));
    if (fresh.length === 0) return;
    const newest = new Map<unknown, Frame>();
    for (const join of fresh) {
      handled.add(join.ref);
      newest.set(join.conv, join);
    }
    for (const join of newest.values()) {
      socket.receive({ type: 'joined', conv: join.conv, epoch: 'E1', head, members: [member('alice'), member('bob')], typing: [], ref: join.ref });
    }
  }
}

describe('tabs', () => {
  beforeEach(() => FakeSocket.reset());
  afterEach(() => {
    for (const session of sessions.splice(0)) session.dispose();
  });

  test('tabs - one socket for three tabs; joins of the same conversation go one at a time, each answered', async () => {
    const browser = new FakeBrowser();
    const clock = new FakeClock();
    const storage = new MemoryStorage();
    const tabs = [openTab(browser, clock, storage), openTab(browser, clock, storage), openTab(browser, clock, storage)];
    await settle();
    assert.equal(FakeSocket.instances.length, 1, 'only the leader connects');
    const socket = FakeSocket.last;
    welcome(socket);
    await settle();
    assert.equal(frames(socket, 'join').length, 1, 'the other joins wait for the first answer');
    await answerJoins(socket, new Set(), 0);
    assert.equal(frames(socket, 'join').length, 3);
    assert.deepEqual(tabs.map((t) => t.session.snapshot.role), ['leader', 'follower', 'follower']);
    assert.ok(tabs.every((t) => t.chat.snapshot.members.length === 2), 'every tab joined');
  });

  for (const [crash, writer] of [[false, 'c'], [true, 'c'], [false, 'b'], [true, 'b']] as const) {
    const who = writer === 'b' ? 'the next leader' : 'another follower';
    test(`tabs - a message of ${who} lost in a leader that ${crash ? 'crashes' : 'closes'} goes out on the next leader's socket right after its join`, async () => {
      const browser = new FakeBrowser();
      const clock = new FakeClock();
      const storage = new MemoryStorage();
      const [a, b, c] = [openTab(browser, clock, storage), openTab(browser, clock, storage), openTab(browser, clock, storage)];
      await settle();
      const first = FakeSocket.last;
      welcome(first);
      await answerJoins(first, new Set(), 0);

      // B or C writes; the frame is on its way to A when A goes away.
      const sent = (writer === 'b' ? b : c).chat.send('right after');
      await Promise.resolve();
      a.tab.close({ crash });
      a.session.dispose();
      await settle();
      assert.deepEqual(frames(first, 'send'), [], 'A never sent it');

      assert.equal(b.session.snapshot.role, 'leader');
      const second = FakeSocket.last;
      assert.notEqual(second, first);
      welcome(second);
      await answerJoins(second, new Set(), 0);
      await settle();
      // No clock has moved: nothing waited for a request timeout.
      assert.deepEqual(frames(second, 'send').map((f) => [f.id, f.text]), [[sent.id, 'right after']]);
      second.receive({ type: 'ack', conv: 'c1', id: sent.id, seq: 1, ts: 5 });
      second.receive({ type: 'msg', conv: 'c1', seq: 1, id: sent.id, from: { id: 'alice', name: 'Alice' }, text: 'right after', ts: 5 });
      await settle();
      for (const tab of [b, c]) assert.deepEqual(tab.chat.snapshot.messages.map((m) => [m.seq, m.text]), [[1, 'right after']]);
      assert.equal(frames(second, 'send').length, 1, 'sent once');
    });
  }

  test('tabs - a view leaves only when no other view of the conversation on the socket holds it', async () => {
    const browser = new FakeBrowser();
    const clock = new FakeClock();
    const storage = new MemoryStorage();
    const [a, b] = [openTab(browser, clock, storage), openTab(browser, clock, storage)];
    const second = a.session.conversation('c1');
    void second.start();
    await settle();
    const socket = FakeSocket.last;
    welcome(socket);
    await answerJoins(socket, new Set(), 0);
    assert.equal(frames(socket, 'join').length, 3);
    second.dispose();
    b.chat.dispose();
    await settle();
    assert.deepEqual(frames(socket, 'leave'), [], 'A still shows c1');
    a.chat.dispose();
    await settle();
    assert.deepEqual(frames(socket, 'leave').map((f) => f.conv), ['c1']);
  });

  test('tabs - a follower tab that goes away leaves what only it held', async () => {
    const browser = new FakeBrowser();
    const clock = new FakeClock();
    const storage = new MemoryStorage();
    const a = openTab(browser, clock, storage);
    const b = openTab(browser, clock, storage);
    const other = b.session.conversation('c2');
    void other.start();
    await settle();
    const socket = FakeSocket.last;
    welcome(socket);
    await answerJoins(socket, new Set(), 0);
    assert.equal(frames(socket, 'join').length, 3);
    b.tab.close();
    await settle();
    assert.deepEqual(frames(socket, 'leave').map((f) => f.conv), ['c2']);
    assert.equal(a.chat.snapshot.connection, 'open');
  });
});
