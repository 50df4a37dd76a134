import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeptUploadDefaults, KeptUploads, type KeptUpload } from './kept-uploads.js';
import { MemoryStorage } from './test/memory-storage.js';
import type { KeyValueStorage } from './types.js';
import { UploadDefaults } from './uploads.js';

const PREFIX = 'chat-room:upload:relay|alice|c1|';

/** Web Locks as one origin's tabs share them: a name is held by one claimant at a time. */
class FakeLocks {
  readonly held = new Set<string>();
  claim = async (name: string): Promise<(() => void) | null> => {
    if (this.held.has(name)) return null;
    this.held.add(name);
    return () => this.held.delete(name);
  };
}

function kept(storage: KeyValueStorage, locks = new FakeLocks()) {
  const errors: unknown[] = [];
  const uploads = new KeptUploads({ storage, prefix: PREFIX, onStorageError: (e) => errors.push(e), claim: locks.claim });
  return { uploads, errors, locks };
}

const upload = (id: string, size = 100, extra: Partial<KeptUpload> = {}): KeptUpload => ({
  id,
  message: `m-${id}`,
  name: `${id}.png`,
  file: new Blob([new Uint8Array(size)], { type: 'image/png' }),
  ...extra,
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('kept uploads', () => {
  test('kept uploads - a kept upload is stored with its file under a key of its own, and removed when forgotten', async () => {
    const storage = new MemoryStorage();
    const { uploads, locks } = kept(storage);
    uploads.keep(upload('u1', 300, { text: 'look', reply: 'm0' }));
    await settle();
    const record = storage.data.get(`${PREFIX}u1`) as KeptUpload;
    assert.equal(record.message, 'm-u1');
    assert.equal(record.text, 'look');
    assert.equal(record.reply, 'm0');
    assert.equal(record.file.size, 300);
    assert.ok(locks.held.has(`${PREFIX}u1`), 'held by the tab that keeps it');
    uploads.forget('u1');
    await settle();
    assert.equal(storage.data.has(`${PREFIX}u1`), false);
    assert.equal(locks.held.size, 0);
  });

  test('kept uploads - the next load takes up what no other tab holds, and leaves what one does', async () => {
    const storage = new MemoryStorage();
    const locks = new FakeLocks();
    const first = kept(storage, locks).uploads;
    first.keep(upload('u1'));
    first.keep(upload('u2'));
    await settle();
    const second = kept(storage, locks).uploads;
    assert.deepEqual(await second.restore(), [], 'the first tab still runs them');
    first.dispose();
    const third = kept(storage, locks).uploads;
    const restored = await third.restore();
    assert.deepEqual(restored.map((u) => [u.id, u.message, u.file.size]), [['u1', 'm-u1', 100], ['u2', 'm-u2', 100]]);
    assert.deepEqual(await kept(storage, locks).uploads.restore(), [], 'now the third tab holds them');
    assert.equal(storage.data.size, 2, 'restoring removes nothing');
  });

  test('kept uploads - bounded in count and bytes: beyond, an upload is not kept', async () => {
    const storage = new MemoryStorage();
    const { uploads } = kept(storage);
    const big = Math.floor(KeptUploadDefaults.maxBytes / 2);
    uploads.keep(upload('a', big));
    uploads.keep(upload('b', big));
    uploads.keep(upload('c', 1));
    await settle();
    assert.deepEqual([...storage.data.keys()], [`${PREFIX}a`, `${PREFIX}b`], 'the third would pass the byte bound');
    uploads.forget('a');
    for (let i = 0; i < UploadDefaults.maxJobs + 5; i++) uploads.keep(upload(`n${i}`, 1));
    await settle();
    assert.equal(storage.data.size, UploadDefaults.maxJobs);
  });

  test('kept uploads - an unreadable record is removed; a storage that cannot list keys keeps nothing', async () => {
    const storage = new MemoryStorage();
    await storage.setItem(`${PREFIX}bad`, { id: 'bad', name: 'x' });
    await storage.setItem('chat-room:upload:relay|bob|c1|u9', upload('u9'));
    const { uploads } = kept(storage);
    assert.deepEqual(await uploads.restore(), [], "bob's upload is not alice's");
    assert.deepEqual([...storage.data.keys()], ['chat-room:upload:relay|bob|c1|u9']);

    const noKeys: KeyValueStorage = { getItem: storage.getItem.bind(storage), setItem: storage.setItem.bind(storage), removeItem: storage.removeItem.bind(storage) };
    const blind = kept(noKeys).uploads;
    blind.keep(upload('u1'));
    await settle();
    assert.equal(storage.data.has(`${PREFIX}u1`), false);
    assert.deepEqual(await blind.restore(), []);
  });

  test('kept uploads - a failing storage is reported, not thrown', async () => {
    const failing: KeyValueStorage = {
      getItem: async () => null,
      setItem: async () => {
        throw new Error('quota');
      },
      removeItem: async () => {},
      keys: async () => {
        throw new Error('gone');
      },
    };
    const { uploads, errors } = kept(failing);
    uploads.keep(upload('u1'));
    assert.deepEqual(await uploads.restore(), []);
    await settle();
    assert.deepEqual(errors.map((e) => (e as Error).message).sort(), ['gone', 'quota']);
  });
});
