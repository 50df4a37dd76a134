import { ContextConsumer, createContext } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { StringKey } from './en.js';
import { english, type Locale, type Params } from './locale.js';

/** The Locale of the enclosing <chat-room> (its `lang`, or the page's, and its `strings`). */
export const localeContext = createContext<Locale>(Symbol('chat-room-locale'));

/**
 * Gives a part of the widget its words: `this._l.t('composer.send')`. Follows the element's
 * language (a `lang` change, the page's `<html lang>` changing, new `strings`) and re-renders
 * the host. Outside a <chat-room> it speaks English.
 */
export class LocaleController implements ReactiveController {
  locale: Locale = english;

  constructor(private readonly _host: ReactiveControllerHost & HTMLElement) {
    _host.addController(this);
    new ContextConsumer(_host, {
      context: localeContext,
      subscribe: true,
      callback: (locale) => {
        this.locale = locale ?? english;
        _host.requestUpdate();
      },
    });
  }

  t(key: StringKey, params?: Params): string {
    return this.locale.t(key, params);
  }

  hostConnected(): void {}
}
