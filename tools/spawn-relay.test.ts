import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, spawnRelay, startRelay } from './spawn-relay.mjs';

async function health(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } });
  await response.body?.cancel();
  return response.status;
}

/** A port held by a plain listener, so a relay cannot bind it. */
async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { port: address.port, server };
}

describe('spawnRelay', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-spawn-test-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  test('spawn - resolves once /healthz answers 200, on the port it picked, with the output collected', async () => {
    const relay = await spawnRelay({ dataDir });
    try {
      assert.equal(await health(relay.port), 200);
      assert.ok(relay.logs.length > 0, 'the relay logged something');
      assert.equal(relay.child.exitCode, null);
    } finally {
      relay.child.kill('SIGKILL');
      await relay.exited;
    }
  });

  test('spawn - a relay that exits first rejects with its exit code and its output', async () => {
    await assert.rejects(
      spawnRelay({ dataDir, env: { RATE_LIMIT: 'lots' } }),
      /relay exited with 2 before listening[\s\S]*RATE_LIMIT must be an integer/,
    );
  });

  test('spawn - a picked port that turns out to be in use is replaced by a new one', async () => {
    const busy = await busyPort();
    const picked: number[] = [];
    const relay = await spawnRelay({
      dataDir,
      pickPort: async (host) => {
        const port = picked.length === 0 ? busy.port : await freePort(host);
        picked.push(port);
        return port;
      },
    }).finally(() => busy.server.close());
    try {
      assert.equal(picked.length, 2, 'one retry');
      assert.equal(relay.port, picked[1]);
      assert.equal(await health(relay.port), 200);
    } finally {
      relay.child.kill('SIGKILL');
      await relay.exited;
    }
  });

  test('spawn - a 200 from another process on the picked port is not taken for the relay', async () => {
    // Another server got the port between the pick and the relay's bind, and answers /healthz.
    const impostor = createHttpServer((_request, response) => response.writeHead(200).end('{"status":"ok"}'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const taken = (impostor.address() as AddressInfo).port;
    const picked: number[] = [];
    const relay = await spawnRelay({
      dataDir,
      pickPort: async (host) => {
        const port = picked.length === 0 ? taken : await freePort(host);
        picked.push(port);
        return port;
      },
    }).finally(() => impostor.close());
    try {
      assert.deepEqual(picked.length, 2);
      assert.equal(relay.port, picked[1]);
      assert.equal(relay.child.exitCode, null);
    } finally {
      relay.child.kill('SIGKILL');
      await relay.exited;
    }
  });

  test('spawn - a fixed port in use is not swapped for another one: the start fails', async () => {
    const busy = await busyPort();
    try {
      const started = Date.now();
      // The relay reports the port in use and exits, or waits for it; either way no other port.
      await assert.rejects(spawnRelay({ dataDir, port: busy.port, timeoutMs: 3000 }), (error: Error) => {
        assert.match(error.message, new RegExp(`(exited with \\d+ before listening|did not start in 3 s)[\\s\\S]*${busy.port}`));
        return true;
      });
      assert.ok(Date.now() - started < 10_000);
    } finally {
      busy.server.close();
    }
  });
});

describe('startRelay', () => {
  test('restart - samePort comes back on the old port with the same data dir; a plain restart on another port', async () => {
    const relay = await startRelay();
    let again: Awaited<ReturnType<typeof relay.restart>> | undefined;
    let moved: Awaited<ReturnType<typeof relay.restart>> | undefined;
    try {
      again = await relay.restart({ samePort: true });
      assert.equal(again.port, relay.port);
      assert.equal(again.dataDir, relay.dataDir);
      assert.notEqual(again.child.pid, relay.child.pid);
      assert.notEqual(relay.child.exitCode ?? relay.child.signalCode, null, 'the old relay is gone');
      assert.equal(await health(again.port), 200);
      moved = await again.restart();
      assert.notEqual(moved.port, again.port);
      assert.equal(await health(moved.port), 200);
    } finally {
      await moved?.dispose();
      await again?.dispose();
      await relay.dispose();
    }
  });

  test('stop - SIGTERM, and the exit code of a graceful shutdown', async () => {
    const relay = await startRelay();
    assert.equal(await relay.stop(), 0);
    await relay.dispose();
  });
});
