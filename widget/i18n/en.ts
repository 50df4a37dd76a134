/**
 * The English catalogue: every word the widget shows, and the source of the keys every
 * other catalogue must have (widget/i18n/catalogues.browser.test.ts checks they all do, with
 * the same placeholders). `{name}` is replaced by a parameter (numbers are formatted for the
 * language); an object picks a plural form with Intl.PluralRules on `{count}`.
 * A page overrides any of them with the element's `strings` property.
 */
export const en = {
  // <chat-room> itself
  'room.missing': 'Set the relay and conversation attributes to start chatting.',
  'room.drop': 'Drop files to send them',
  'room.title': 'Chat',
  'room.reload': 'Reload',

  // Refusals: the chat cannot work until the page (or the site) changes something.
  'refusal.expired': 'Your session expired — reload to continue.',
  'refusal.unauthorized': 'You could not be signed in to the chat — reload to try again.',
  'refusal.conversation': 'You don’t have access to this conversation.',
  'refusal.origin': 'This website is not allowed to use this chat.',
  'refusal.badConversation': 'This chat is not set up correctly: “{conversation}” is not a valid conversation id.',
  'refusal.noToken': 'This chat is not set up correctly: no sign-in token was given.',
  'refusal.badConfig': 'This chat is not set up correctly.',
  'refusal.version': 'This version of the chat is no longer supported — reload to get the new one.',
  'refusal.tooMany': 'Too many chats are open — close some and reload.',
  'refusal.banned': 'You can no longer write in this conversation.',

  // Connection banner
  'connection.offline': 'You are offline. Messages will be sent when you are back online.',
  'connection.reconnecting': 'Connection lost. Reconnecting…',
  'connection.connecting': 'Connecting…',
  'connection.closed': 'Disconnected.',
  'connection.online': 'Back online.',

  // Message list
  'list.label': 'Messages',
  'list.loadingOlder': 'Loading older messages…',
  'list.loadOlder': 'Load older messages',
  'list.empty': 'No messages yet.',
  'list.unread': 'Unread',
  'list.unreadLabel': 'Unread messages',
  'list.newMessages': { one: '{count} new message', other: '{count} new messages' },
  'list.toBottom': 'Scroll to the newest message',
  'day.today': 'Today',
  'day.yesterday': 'Yesterday',

  // One message (chat-room-message)
  'message.you': 'You',
  'message.retry': 'Retry',
  'message.discard': 'Discard',
  'message.notSent': 'Not sent',
  'status.sending': 'Sending',
  'status.sent': 'Sent',
  'status.delivered': 'Delivered',
  'status.read': 'Read',
  'status.readBy': 'Read by {names}',
  'status.failed': 'Not sent: {reason}',

  // Message actions, reactions, replies, members (the issue-11 parts)
  'message.deleted': 'Message deleted',
  'message.edited': 'edited',
  'message.editedAt': 'Edited at {time}',
  'message.saving': 'saving…',
  'message.editLabel': 'Edit message',
  'message.save': 'Save',
  'message.cancel': 'Cancel',
  'message.editFailed': 'Not edited: {reason}',
  'message.deleteFailed': 'Not deleted: {reason}',
  'message.reactFailed': 'Reaction not saved: {reason}',
  'message.dismiss': 'Dismiss',
  'actions.button': 'Message actions',
  'actions.reply': 'Reply',
  'actions.react': 'React',
  'actions.edit': 'Edit',
  'actions.delete': 'Delete',
  'reactions.label': 'Reactions',
  'reactions.picker': 'Add a reaction',
  'reactions.you': 'You',
  'reactions.chip': '{emoji} {count}: {names}',
  'reply.replyingTo': 'Replying to',
  'reply.cancel': 'Cancel reply',
  'reply.show': 'Show the quoted message',
  'members.label': 'Members',
  'members.online': 'online',
  'members.seen': 'last seen {time}',
  'members.never': 'not seen yet',
  'members.banned': 'banned',
  'members.more': '+{count}',
  'members.you': '{name} (you)',

  // Composer
  'composer.label': 'Message',
  'composer.placeholder': 'Write a message…',
  'composer.send': 'Send',
  'composer.attach': 'Attach a file',
  'composer.counter': '{length} / {max}',
  'composer.tooLong': '{length} / {max} — too long',
  'composer.disabled': 'You cannot write here.',

  // Typing line
  'typing.one': '{name} is typing…',
  'typing.two': '{first} and {second} are typing…',
  'typing.many': { one: '{count} person is typing…', other: '{count} people are typing…' },

  // Uploads
  'uploads.label': 'Uploads',
  'upload.progress': '{percent} of {size}',
  'upload.uploading': 'Uploading {name}',
  'upload.cancel': 'Cancel',
  'upload.cancelLabel': 'Cancel upload of {name}',
  'upload.retry': 'Retry',
  'upload.retryLabel': 'Retry upload of {name}',
  'upload.dismiss': 'Dismiss',
  'upload.dismissLabel': 'Dismiss upload of {name}',
  'upload.failed': 'Upload failed',
  'upload.waiting': 'Waiting for the connection to upload',

  // Sizes (binary units: the relay's limits are powers of two)
  'size.B': '{n} B',
  'size.KiB': '{n} KiB',
  'size.MiB': '{n} MiB',
  'size.GiB': '{n} GiB',

  // Launcher and header
  'launcher.open': 'Open chat',
  'launcher.close': 'Close chat',
  'launcher.unread': { one: '{count} unread message', other: '{count} unread messages' },
  'header.online': { one: '{count} online', other: '{count} online' },

  // Notifications (opt-in `notify`)
  'notify.title': '({count}) {title}',
  'notify.from': 'New message from {name}',
  'notify.file': 'Sent a file: {name}',

  // Errors: the client's and the relay's codes (widget/client/errors.ts, protocol/codes.ts).
  'error.prefix': '{name}: {reason}',
  'error.text_too_long': 'message is longer than {max} characters',
  'error.file_too_large': 'file is larger than {size}',
  'error.upload_network': 'network error: the file could not be uploaded',
  'error.upload_refused': 'upload failed (HTTP {status})',
  'error.upload_refused_silent': 'upload failed (no answer)',
  'error.token_failed': 'could not get a sign-in token',
  'error.storage': 'messages cannot be saved on this device: they are sent, but will not survive a reload',
  'error.bad_config': 'the chat is not set up correctly',
  'error.bad_frame': 'the relay did not understand the client',
  'error.unsupported_version': 'this version of the chat is no longer supported by the relay',
  'error.unauthenticated': 'not signed in',
  'error.unauthorized': 'not signed in: the relay refused the credentials',
  'error.forbidden': 'not allowed here',
  'error.not_joined': 'not in this conversation',
  'error.not_found': 'that message does not exist any more',
  'error.too_large': 'too large for the relay',
  'error.rate_limited': 'too many messages: slow down',
  'error.too_many': 'too many connections or conversations open',
  'error.conflict': 'conflicts with what the relay has',
  'error.unavailable': 'the relay is unavailable: try again later',
  'error.internal': 'something went wrong',
  'error.unknown': 'something went wrong ({code})',
} as const satisfies Record<string, Entry>;

/** A plural entry: Intl.PluralRules categories, `other` required. */
export interface Plural {
  readonly zero?: string;
  readonly one?: string;
  readonly two?: string;
  readonly few?: string;
  readonly many?: string;
  readonly other: string;
}
export type Entry = string | Plural;

/** Every key of the widget's words. */
export type StringKey = keyof typeof en;
/** A complete catalogue (what each language file exports). */
export type Catalogue = { readonly [K in StringKey]: Entry };
/** What a page may pass in `strings`: any subset, per key. */
export type StringOverrides = { readonly [K in StringKey]?: Entry };
