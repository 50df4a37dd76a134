import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadUws, NativeUwsMissingError } from './uws.js';

test('uws - the native binary for this platform loads', () => {
  const { uws, native } = loadUws(false);
  assert.equal(native, true);
  assert.equal(typeof uws.App, 'function');
});

test('uws - a missing native binary refuses to start instead of falling back silently', () => {
  assert.throws(() => loadUws(false, '/nonexistent/uws_linux_x64_0.node'), NativeUwsMissingError);
  assert.throws(() => loadUws(false, '/nonexistent/uws_linux_x64_0.node'), /ALLOW_UWS_FALLBACK/);
});

test('uws - the pure-JS fallback is used only when explicitly allowed', () => {
  const { native } = loadUws(true, '/nonexistent/uws_linux_x64_0.node');
  assert.equal(native, false);
});
