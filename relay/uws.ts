/**
 * Loads uWebSockets.js's native binary. The npm build we use (see DESIGN.md) silently
 * falls back to a slow pure-JS server when its binary does not load; a relay that quietly
 * runs at a fraction of its speed is worse than one that refuses to start, so we load the
 * binary ourselves and only take the fallback when explicitly allowed.
 */
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;

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
