/**
 * FakeClient with the v1.1 calls (edit, delete, react, send with a reply) recorded, and a
 * <chat-room> mounted on it: the message-actions tests drive the view with it.
 */
import { fixture, html } from '@open-wc/testing';
import '../index.js';
import type { ChatRoom } from '../chat-room.js';
import type { ChatClientOptions, ChatMessage, ChatSnapshot, FileRef, UploadState } from '../client/types.js';
import { FakeClient } from './fake-client.js';
import { settle } from './helpers.js';

export class FakeClientV11 extends FakeClient {
  edit(id: string, text: string): void {
    this.calls.push({ method: 'edit', args: [id, text] });
  }

  delete(id: string): void {
    this.calls.push({ method: 'delete', args: [id] });
  }

  react(id: string, emoji: string, on: boolean): void {
    this.calls.push({ method: 'react', args: [id, emoji, on] });
  }

  dismissChangeError(id: string): void {
    this.calls.push({ method: 'dismissChangeError', args: [id] });
  }

  async ban(user: string, until?: number): Promise<{ ok: true }> {
    this.calls.push({ method: 'ban', args: [user, until] });
    return { ok: true };
  }

  override send(text: string, fileOrOptions?: FileRef | { file?: FileRef; reply?: string }, options?: { reply?: string }): ChatMessage {
    const file = fileOrOptions && 'url' in fileOrOptions ? fileOrOptions : fileOrOptions?.file;
    if (fileOrOptions && !('url' in fileOrOptions)) options = fileOrOptions;
    const sent = super.send(text, file);
    // The base records (text, file); keep the options too so tests see the reply.
    const call = this.calls[this.calls.length - 1];
    if (call && options) call.args.push(options);
    return sent;
  }

  override upload(file: Blob & { name?: string }, text?: string, options?: { reply?: string }): UploadState {
    const state = super.upload(file, text);
    const call = this.calls[this.calls.length - 1];
    if (call && options) call.args.push(options);
    return state;
  }

  /** Replaces one message of the snapshot (by id), as the core does after a change. */
  change(id: string, changes: Record<string, unknown>): void {
    this.set({ messages: this.snapshot.messages.map((m) => (m.id === id ? ({ ...m, ...changes } as ChatMessage) : m)) });
  }
}

export async function mountV11(snapshot: Partial<ChatSnapshot> & Record<string, unknown> = {}): Promise<{ el: ChatRoom; client: FakeClientV11 }> {
  let client: FakeClientV11 | undefined;
  const factory = (options: ChatClientOptions) => (client = new FakeClientV11(options, snapshot));
  const el = await fixture<ChatRoom>(
    html`<chat-room relay="ws://relay.test/ws" conversation="c1" user="alice" name="Alice" .clientFactory=${factory}></chat-room>`,
  );
  await settle(el);
  if (!client) throw new Error('chat-room made no client');
  return { el, client };
}
