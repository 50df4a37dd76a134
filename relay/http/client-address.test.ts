import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalIp, InvalidProxyError, resolveClientIp, TrustedProxies } from './client-address.js';

test('client address - canonical spelling of what uWS and proxies report', () => {
  assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
  // uWS's long form for an IPv4 peer of a dual-stack socket, and for ::1.
  assert.equal(canonicalIp('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1');
  assert.equal(canonicalIp('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  assert.equal(canonicalIp('::FFFF:203.0.113.9'), '203.0.113.9');
  assert.equal(canonicalIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalIp(' 10.0.0.1 '), '10.0.0.1');
  for (const junk of ['', 'unknown', '1.2.3.4:80', '01.2.3.4', '[::1]', '1.2.3', 'a'.repeat(100)]) assert.equal(canonicalIp(junk), null, junk);
});

test('client address - TRUST_PROXY takes addresses and CIDR blocks of both families, and refuses anything else', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1', '::ffff:172.16.0.0/108']);
  for (const ip of ['10.1.2.3', '192.168.1.7', '2001:db8:ffff::1', '::1', '172.16.5.5']) assert.equal(trusted.has(ip), true, ip);
  for (const ip of ['11.0.0.1', '192.168.1.8', '2001:db9::1', '127.0.0.1', '172.32.0.1']) assert.equal(trusted.has(ip), false, ip);
  assert.equal(new TrustedProxies([]).has('127.0.0.1'), false);
  for (const bad of ['', 'localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/8/8', '10.0.0.0/x', '::ffff:10.0.0.0/90']) {
    assert.throws(() => new TrustedProxies([bad]), InvalidProxyError, bad);
  }
});

test('client address - the socket address unless it is a trusted proxy', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8']);
  assert.equal(resolveClientIp('203.0.113.5', ['198.51.100.1'], trusted), '203.0.113.5', 'a header from an untrusted peer is ignored');
  assert.equal(resolveClientIp('10.0.0.2', [], trusted), '10.0.0.2', 'a trusted proxy that forwards nothing');
  assert.equal(resolveClientIp('203.0.113.5', ['198.51.100.1'], new TrustedProxies([])), '203.0.113.5');
});

test('client address - X-Forwarded-For is read from the right, skipping trusted proxies; what the client wrote is not believed', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '2001:db8::/32']);
  // The client claims 1.1.1.1; the edge proxy 10.0.0.9 appended the address it really saw.
  assert.equal(resolveClientIp('10.0.0.2', ['1.1.1.1, 198.51.100.7, 10.0.0.9'], trusted), '198.51.100.7');
  assert.equal(resolveClientIp('10.0.0.2', ['1.1.1.1', '198.51.100.7'], trusted), '198.51.100.7', 'repeated headers are one list, in order');
  assert.equal(resolveClientIp('10.0.0.2', ['2001:DB8::5, 0000:0000:0000:0000:0000:ffff:c633:6407'], trusted), '198.51.100.7');
  assert.equal(resolveClientIp('10.0.0.2', ['[2001:db9::1]'], trusted), '2001:db9::1');
  assert.equal(resolveClientIp('10.0.0.2', ['10.0.0.7, 10.0.0.8'], trusted), '10.0.0.7', 'all trusted: the furthest hop');
  assert.equal(resolveClientIp('10.0.0.2', [' , 198.51.100.7 ,'], trusted), '198.51.100.7', 'empty entries are skipped');
});

test('client address - a malformed X-Forwarded-For entry falls back to the socket address', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8']);
  assert.equal(resolveClientIp('10.0.0.2', ['198.51.100.7, unknown'], trusted), '10.0.0.2');
  assert.equal(resolveClientIp('10.0.0.2', ['198.51.100.7:4321'], trusted), '10.0.0.2');
  assert.equal(resolveClientIp('10.0.0.2', ['<script>, 10.0.0.3'], trusted), '10.0.0.2');
  // Left of the first untrusted hop nothing is read, malformed or not.
  assert.equal(resolveClientIp('10.0.0.2', ['garbage, 198.51.100.7'], trusted), '198.51.100.7');
});
