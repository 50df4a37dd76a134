/**
 * Calls every listener with `value`. A listener that throws (the embedding page's code) is
 * reported and does not keep the others from hearing the news; listeners added or removed
 * while calling take effect next time.
 */
export function callEach<T>(listeners: Iterable<(value: T) => void>, value: T, what: string): void {
  for (const listener of [...listeners]) {
    try {
      listener(value);
    } catch (error) {
      console.error(`chat-room: ${what} listener failed`, error);
    }
  }
}
