/**
 * protocol/README.md is the contract users read: every frame example in it that is complete
 * JSON must pass the schema, and every frame type must have one. (Ids shortened with "…" in
 * the text are filled in; examples with elided values, such as `"ts":…`, are not checked.)
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import * as v from 'valibot';
import { decodeClientFrame, decodeServerFrame, WebhookEvent, WebhookEventType } from '../../protocol/index.js';

const CLIENT_TYPES = ['hello', 'join', 'leave', 'send', 'history', 'typing', 'receipt', 'ping', 'edit', 'delete', 'react', 'ban'];
const SERVER_TYPES = ['welcome', 'joined', 'msg', 'update', 'ack', 'history', 'typing', 'receipt', 'member', 'resync', 'presence', 'pong', 'error'];

/** JSON objects (frames, webhook bodies) written in backticks or in ```json blocks, with "…" inside strings replaced by "x". */
function examples(markdown: string): unknown[] {
  const snippets = [...markdown.matchAll(/`(\{"type":[^`]+\})`/g)].map((m) => m[1]!);
  for (const block of markdown.matchAll(/```json\n([\s\S]*?)```/g)) snippets.push(block[1]!.replace(/\n\s*/g, ' '));
  const parsed: unknown[] = [];
  for (const snippet of snippets) {
    const filled = snippet.replace(/"([^"]*)…([^"]*)"/g, (_, a: string, b: string) => `"${a}x${b}"`);
    try {
      parsed.push(JSON.parse(filled));
    } catch {
      // An example with elided parts (`"ts":…`, `[…msg…]`): shown for its shape, not checked.
    }
  }
  return parsed;
}

test('protocol README - every complete frame example passes the schema; every frame type has one', async () => {
  const markdown = await readFile(new URL('../../protocol/README.md', import.meta.url), 'utf8');
  const seen = { client: new Set<string>(), server: new Set<string>() };
  let checked = 0;
  for (const example of examples(markdown)) {
    const type = (example as { type?: string }).type!;
    if ((Object.values(WebhookEventType) as string[]).includes(type)) {
      const webhook = v.safeParse(WebhookEvent, example);
      assert.ok(webhook.success, `webhook example: ${JSON.stringify(webhook.issues?.[0]?.message)}`);
      checked++;
      continue;
    }
    const client = decodeClientFrame(example);
    const server = decodeServerFrame(example);
    // Some types exist both ways (history, typing, receipt): the example must be one of them.
    assert.ok(client.ok || server.ok, `${JSON.stringify(example)}: ${client.ok ? '' : client.message} / ${server.ok ? '' : server.message}`);
    if (client.ok) seen.client.add(type);
    if (server.ok) seen.server.add(type);
    checked++;
  }
  assert.ok(checked >= 30, `${checked} examples checked`);
  assert.deepEqual(CLIENT_TYPES.filter((t) => !seen.client.has(t)), [], 'client frames without a checked example');
  assert.deepEqual(SERVER_TYPES.filter((t) => !seen.server.has(t)), [], 'relay frames without a checked example');
});
