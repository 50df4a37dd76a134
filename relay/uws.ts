/**
 * Loads uWebSockets.js's native binary. The npm build we use (see DESIGN.md) silently
 * falls back to a slow pure-JS server when its binary does not load; a relay that quietly
 * runs at a fraction of its speed is worse than one that refuses to start, so we load the
 * binary ourselves and only take the fallback when explicitly allowed.
 */
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: bind without SO_REUSEPORT. */
const LISTEN_EXCLUSIVE_PORT = 1;

type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  callback: (socket: UwsTypes.us_listen_socket | false) => void,
) => UwsTypes.TemplatedApp;

/**
 * Listens on host:port and nowhere that another process already listens. uWS binds with
 * SO_REUSEPORT by default, and with it a second relay on a taken port starts happily and the
 * kernel splits the clients between the two. The native binary (and the JS fallback) take
 * listen(host, port, options, callback); the bundled d.ts only declares the options for
 * listen(port, …).
 */
export function listenExclusive(app: UwsTypes.TemplatedApp, host: string, port: number): Promise<UwsTypes.us_listen_socket | false> {
  const listen = app.listen as unknown as ListenWithOptions;
  return new Promise((resolve) => listen.call(app, host, port, LISTEN_EXCLUSIVE_PORT, resolve));
}

const require = createRequire(import.meta.url);

export class NativeUwsMissingError extends Error {
  override name = 'NativeUwsMissingError';
}

export function loadUws(
  allowFallback: boolean,
  /** The binary to load; the one for this platform and Node ABI by default (tests pass a missing one). */
  binary = `${packageDir()}binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
): { uws: Uws; native: boolean } {
  try {
    return { uws: require(binary) as Uws, native: true };
  } catch (error) {
    if (!allowFallback) {
      throw new NativeUwsMissingError(
        `uWebSockets.js has no native binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} ` +
          `(${(error as Error).message.split('\n')[0]}). Use Node.js 16, 18 or 20, or set ALLOW_UWS_FALLBACK=1 ` +
          'to run on the slow pure-JS fallback.',
      );
    }
    return { uws: require(`${packageDir()}dist/index.js`) as Uws, native: false };
  }
}

function packageDir(): string {
  return require.resolve('uWebSockets.js/package.json').replace(/package\.json$/, '');
}
