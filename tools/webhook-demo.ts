/**
 * `npm run webhook-demo`: a tiny webhook receiver for the relay, and a support bot.
 *
 *   WEBHOOK_SECRET=… CHAT_API_KEY=… CHAT_RELAY_URL=http://localhost:8080 npm run webhook-demo
 *   # then start the relay with WEBHOOK_URL=http://localhost:3001/webhooks WEBHOOK_SECRET=… CHAT_API_KEY=…
 *
 * It verifies every request's X-Chat-Signature (HMAC-SHA256 of "<t>.<raw body>", timestamp
 * within 5 minutes, constant-time comparison), drops repeats of an event id it has already
 * handled (delivery is at least once), prints each event, and answers every new message that
 * contains "help" as a support bot, through the server API. The reply's id is derived from
 * the event id, so even a repeat that got past the dedup (after a restart of this process)
 * cannot post the answer twice: API writes are idempotent on their id.
 *
 * Self-contained on purpose (node:http, node:crypto and fetch only): copy it as the start of
 * your own receiver. A real one keeps the handled ids in its database (a unique key), not in
 * memory.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const PORT = Number(process.env.WEBHOOK_DEMO_PORT ?? 3001);
const HOST = process.env.WEBHOOK_DEMO_HOST ?? '127.0.0.1';
const SECRET = process.env.WEBHOOK_SECRET ?? '';
const API_KEY = process.env.CHAT_API_KEY ?? '';
const RELAY = (process.env.CHAT_RELAY_URL ?? 'http://localhost:8080').replace(/\/$/, '');
const BOT = { id: 'support-bot', name: 'Support bot' };
/** Signatures older (or newer) than this are refused: a captured request cannot be replayed later. */
const TOLERANCE_S = 300;
/** Event ids remembered for deduplication (the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;
/** Bodies larger than this are refused (the relay's events are a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024;

if (!SECRET) {
  console.error('webhook-demo: set WEBHOOK_SECRET (the same value as the relay\'s)');
  process.exit(2);
}
if (!API_KEY) console.warn('webhook-demo: CHAT_API_KEY is not set: events are printed, the bot cannot answer');

function verify(header: string | undefined, body: Buffer): boolean {
  const parts = new Map((header ?? '').split(',').map((part) => part.trim().split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(given)) return false;
  if (Math.abs(Date.now() / 1000 - t) > TOLERANCE_S) return false;
  const expected = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

const handled = new Set<string>();
function firstTime(id: string): boolean {
  if (handled.has(id)) return false;
  handled.add(id);
  if (handled.size > MAX_REMEMBERED) handled.delete(handled.values().next().value!);
  return true;
}

interface ChatEvent {
  id: string;
  type: 'message.created' | 'message.updated' | 'message.deleted' | 'member.joined';
  conv: string;
  ts: number;
  data: { id: string; seq?: number; name?: string; text?: string; from?: { id: string; name: string }; deleted?: boolean };
}

async function answer(event: ChatEvent): Promise<void> {
  const reply = {
    // Derived from the event: a repeated event can never post a second answer.
    id: `help-${createHash('sha256').update(event.id).digest('hex').slice(0, 32)}`,
    from: BOT,
    text: `Hi ${event.data.from?.name ?? 'there'}, a person from our team will be with you shortly. Meanwhile: https://example.com/help`,
    reply: event.data.id,
  };
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const response = await fetch(`${RELAY}/api/v1/conversations/${encodeURIComponent(event.conv)}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(reply),
        signal: AbortSignal.timeout(5000),
      });
      if (response.ok) {
        console.log(`  → bot answered in ${event.conv} (HTTP ${response.status})`);
        return;
      }
      const text = await response.text();
      if (response.status < 500) return void console.error(`  → the API refused the answer: ${response.status} ${text}`);
    } catch (error) {
      console.error(`  → the API is unreachable (${(error as Error).message}); attempt ${attempt} of 5`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
  }
}

function describe(event: ChatEvent): string {
  const d = event.data;
  switch (event.type) {
    case 'message.created':
      return `${d.from?.name ?? d.from?.id}: ${d.text ?? '(file)'}`;
    case 'message.updated':
      return `${d.id} is now: ${d.text ?? ''}`;
    case 'message.deleted':
      return `${d.id} was deleted`;
    case 'member.joined':
      return `${d.name ?? d.id} joined for the first time`;
  }
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return void req.destroy();
    chunks.push(chunk);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verify(req.headers['x-chat-signature'] as string | undefined, body)) {
      console.warn('refused a request with a missing, stale or wrong signature');
      return void res.writeHead(401).end();
    }
    const event = JSON.parse(body.toString('utf8')) as ChatEvent;
    // Answered at once: the relay waits at most 5 s, and work is better done after the answer.
    res.writeHead(204).end();
    if (!firstTime(event.id)) return void console.log(`(repeat of ${event.id}, ignored)`);
    console.log(`[${new Date(event.ts).toISOString()}] ${event.type} ${event.conv}: ${describe(event)}`);
    const asksForHelp = event.type === 'message.created' && event.data.from?.id !== BOT.id && /\bhelp\b/i.test(event.data.text ?? '');
    if (asksForHelp && API_KEY) void answer(event);
  });
});

server.listen(PORT, HOST, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : PORT;
  console.log(`webhook demo listening on http://${HOST}:${port}/webhooks (relay API at ${RELAY})`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));
