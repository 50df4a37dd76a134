/**
 * Registers a custom element without failing a page that loads the widget twice (two
 * bundles, or the bundle and the npm package): the first definition wins and the second
 * copy says so on the console instead of throwing, which would break the rest of the page.
 */
export function define(name: string, constructor: CustomElementConstructor): void {
  const existing = customElements.get(name);
  if (existing === constructor) return;
  if (existing) {
    console.warn(`<${name}> is already defined by another copy of the chat-room widget on this page; that one is used.`);
    return;
  }
  customElements.define(name, constructor);
}
