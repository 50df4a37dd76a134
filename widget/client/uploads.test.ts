import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { FileRef } from '../../protocol/index.js';
import type { UploadState } from './types.js';
import { formatBytes, httpBaseOf, Uploads, type UploadFile, type XhrLike } from './uploads.js';
import type { ChatError } from './errors.js';

class FakeXhr implements XhrLike {
  static all: FakeXhr[] = [];
  status = 0;
  responseText = '';
  readonly upload: XhrLike['upload'] = { onprogress: null };
  onload: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onabort: ((event: unknown) => void) | null = null;
  ontimeout: ((event: unknown) => void) | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: Blob | null = null;
  aborted = false;

  constructor() {
    FakeXhr.all.push(this);
  }
  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }
  send(body: Blob): void {
    this.body = body;
  }
  abort(): void {
    this.aborted = true;
    this.onabort?.({});
  }
  respond(status: number, body: unknown = {}): void {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.({});
  }
}

const FILE_REF: FileRef = { url: '/files/abcdefghijklmnopqrstuv', name: 'cat picture.png', size: 2048, type: 'image/png' };

function setup(maxBytes = 10_000, online: { value: boolean } = { value: true }) {
  const done: Array<{ file: FileRef; text: string | undefined }> = [];
  const sentAs: string[] = [];
  /** What the kept-uploads store was told: `keep id message` and `forget id`, in order. */
  const kept: string[] = [];
  const errors: ChatError[] = [];
  let n = 0;
  let snapshots = 0;
  const uploads = new Uploads({
    createXhr: () => new FakeXhr(),
    request: (file, name) => ({
      url: 'http://relay.test/upload?conv=c1',
      headers: { 'Content-Type': file.type, 'X-File-Name': encodeURIComponent(name), 'X-Chat-User': 'alice' },
    }),
    maxBytes: () => maxBytes,
    makeId: () => `u${++n}`,
    onChange: () => snapshots++,
    onDone: (file, text, _reply, message) => {
      done.push({ file, text });
      sentAs.push(message);
    },
    onError: (error) => errors.push(error),
    canStart: () => online.value,
    keep: (upload) => kept.push(`keep ${upload.id} ${upload.message}`),
    forget: (id) => kept.push(`forget ${id}`),
  });
  return { uploads, done, errors, changes: () => snapshots, kept, sentAs };
}

const file = (size: number, name = 'cat picture.png'): UploadFile => Object.assign(new Blob([new Uint8Array(size)], { type: 'image/png' }), { name });
const only = (list: readonly UploadState[]) => {
  assert.equal(list.length, 1);
  return list[0]!;
};

describe('uploads', () => {
  beforeEach(() => (FakeXhr.all = []));

  test('uploads - POSTs the bytes with name and credentials, reports progress, then sends the FileRef', () => {
    const { uploads, done } = setup();
    const started = uploads.start(file(2048), 'look');
    assert.equal(started.state, 'uploading');
    const xhr = FakeXhr.all[0]!;
    assert.equal(xhr.method, 'POST');
    assert.equal(xhr.url, 'http://relay.test/upload?conv=c1');
    assert.equal(xhr.headers['X-File-Name'], 'cat%20picture.png');
    assert.equal(xhr.headers['Content-Type'], 'image/png');
    assert.equal(xhr.body?.size, 2048);
    xhr.upload.onprogress?.({ loaded: 1024, total: 2048 });
    assert.equal(only(uploads.list).loaded, 1024);
    xhr.respond(201, FILE_REF);
    assert.deepEqual(done, [{ file: FILE_REF, text: 'look' }]);
    assert.deepEqual(uploads.list, [], 'a finished upload leaves the list (its message shows instead)');
  });

  test('uploads - a file over the relay’s limit is refused before anything is uploaded', () => {
    const { uploads, errors } = setup(1000);
    const state = uploads.start(file(1001));
    assert.equal(state.state, 'failed');
    assert.deepEqual(state.error, { code: 'file_too_large', params: { maxBytes: 1000, name: 'cat picture.png' } });
    assert.equal(FakeXhr.all.length, 0);
    assert.deepEqual(errors, [state.error]);
  });

  for (const [status, expected] of [
    [413, { code: 'file_too_large', params: { maxBytes: 10_000, name: 'cat picture.png' } }],
    [401, { code: 'unauthorized', params: { name: 'cat picture.png' } }],
    [403, { code: 'forbidden', params: { name: 'cat picture.png' } }],
    [500, { code: 'upload_refused', params: { status: 500, name: 'cat picture.png' } }],
  ] as const) {
    test(`uploads - HTTP ${status} fails with a code and parameters, and retryUpload tries again`, () => {
      const { uploads, done, errors } = setup();
      const { id } = uploads.start(file(10));
      FakeXhr.all[0]!.respond(status, { error: 'nope' });
      const failed = only(uploads.list);
      assert.equal(failed.state, 'failed');
      assert.deepEqual(failed.error, expected);
      assert.equal(errors.length, 1);
      uploads.retry(id);
      assert.equal(only(uploads.list).state, 'uploading');
      assert.equal(only(uploads.list).error, undefined);
      FakeXhr.all[1]!.respond(201, FILE_REF);
      assert.equal(done.length, 1);
    });
  }

  test('uploads - a network error fails with its code', () => {
    const { uploads } = setup();
    uploads.start(file(10));
    FakeXhr.all[0]!.onerror?.({});
    assert.deepEqual(
      { state: only(uploads.list).state, error: only(uploads.list).error },
      { state: 'failed', error: { code: 'upload_network', params: { name: 'cat picture.png' } } },
    );
  });

  test('uploads - a 201 with an unexpected body fails instead of sending junk', () => {
    const { uploads, done } = setup();
    uploads.start(file(10));
    FakeXhr.all[0]!.respond(201, { url: 'javascript:alert(1)', name: 'x', size: 1, type: 'a/b' });
    assert.equal(only(uploads.list).state, 'failed');
    assert.equal(done.length, 0);
  });

  test('uploads - cancel aborts the request and nothing is sent', () => {
    const { uploads, done } = setup();
    const { id } = uploads.start(file(10));
    uploads.cancel(id);
    assert.equal(FakeXhr.all[0]!.aborted, true);
    assert.deepEqual(uploads.list, []);
    FakeXhr.all[0]!.respond(201, FILE_REF);
    assert.equal(done.length, 0, 'a late answer of a cancelled upload is ignored');
  });

  test('uploads - dismiss removes a failed upload', () => {
    const { uploads } = setup(5);
    const { id } = uploads.start(file(10));
    uploads.dismiss(id);
    assert.deepEqual(uploads.list, []);
  });

  test('uploads - every change is a new state object', () => {
    const { uploads } = setup();
    const first = uploads.start(file(2048));
    FakeXhr.all[0]!.upload.onprogress?.({ loaded: 10 });
    assert.notEqual(only(uploads.list), first);
    assert.equal(first.loaded, 0);
  });

  test('uploads - the HTTP base comes from the relay URL', () => {
    assert.equal(httpBaseOf('ws://127.0.0.1:8080/ws'), 'http://127.0.0.1:8080');
    assert.equal(httpBaseOf('wss://chat.example.com/ws'), 'https://chat.example.com');
    assert.equal(httpBaseOf('wss://example.com/chat/ws/'), 'https://example.com/chat');
    assert.equal(httpBaseOf('wss://example.com/'), 'https://example.com');
  });

  test('uploads - sizes read like people write them', () => {
    assert.equal(formatBytes(25 * 1024 * 1024), '25 MB');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(formatBytes(1000), '1000 bytes');
  });

  test('uploads - started offline, an upload waits (no request) and begins when the connection is back; one cut off offline waits again', () => {
    const online = { value: false };
    const { uploads, done, errors } = setup(10_000, online);
    uploads.start(file(2048), 'later');
    assert.equal(only(uploads.list).state, 'waiting');
    assert.equal(FakeXhr.all.length, 0);
    online.value = true;
    uploads.resume();
    assert.equal(only(uploads.list).state, 'uploading');
    online.value = false;
    FakeXhr.all[0]!.onerror?.({});
    assert.deepEqual([only(uploads.list).state, errors], ['waiting', []]);
    online.value = true;
    uploads.resume();
    FakeXhr.all[1]!.respond(201, FILE_REF);
    assert.deepEqual(done, [{ file: FILE_REF, text: 'later' }]);
  });

  test('uploads - each upload is kept until it is over: done (after its message is handed on), cancelled or dismissed', () => {
    const online = { value: true };
    const { uploads, kept, sentAs } = setup(1000, online);
    const one = uploads.start(file(10), 'a');
    FakeXhr.all[0]!.respond(201, FILE_REF);
    assert.deepEqual(kept, ['keep u1 u2', 'forget u1']);
    assert.deepEqual(sentAs, ['u2'], 'the message goes out with the id chosen at the start');
    assert.equal(one.id, 'u1');
    kept.length = 0;
    const two = uploads.start(file(10));
    uploads.cancel(two.id);
    const three = uploads.start(file(10));
    FakeXhr.all.at(-1)!.respond(500);
    uploads.dismiss(three.id);
    uploads.start(file(2000));
    online.value = false;
    uploads.start(file(10));
    uploads.dispose();
    assert.deepEqual(kept, ['keep u3 u4', 'forget u3', 'keep u5 u6', 'forget u5', 'keep u9 u10'], 'too large: never kept; disposed: still kept');
  });

  test('uploads - restored uploads wait, begin when the connection is there and send with their kept message id', () => {
    const online = { value: false };
    const { uploads, done, sentAs, kept } = setup(10_000, online);
    uploads.restore([{ id: 'k1', message: 'm-k1', name: 'old.png', file: file(50), text: 'from before' }]);
    assert.deepEqual(uploads.list.map((u) => [u.id, u.name, u.size, u.state]), [['k1', 'old.png', 50, 'waiting']]);
    assert.equal(FakeXhr.all.length, 0);
    online.value = true;
    uploads.resume();
    assert.equal(FakeXhr.all[0]!.headers['X-File-Name'], 'old.png');
    FakeXhr.all[0]!.respond(201, FILE_REF);
    assert.deepEqual(done, [{ file: FILE_REF, text: 'from before' }]);
    assert.deepEqual(sentAs, ['m-k1']);
    assert.deepEqual(kept, ['forget k1'], 'not kept again, forgotten when done');
  });

  test('uploads - a waiting upload can be cancelled; more than 20 at once are refused', () => {
    const online = { value: false };
    const { uploads, errors } = setup(10_000, online);
    const waiting = uploads.start(file(10));
    uploads.cancel(waiting.id);
    assert.equal(uploads.list.length, 0);
    for (let i = 0; i < 21; i++) uploads.start(file(10));
    assert.equal(uploads.list.filter((u) => u.state === 'waiting').length, 20);
    assert.deepEqual(errors.map((e) => e.code), ['outbox_full']);
  });
});
