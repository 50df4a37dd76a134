/**
 * How Debian's Chromium is launched by every browser test here (web-test-runner and
 * playwright): as root it needs --no-sandbox, and the background-networking flags keep
 * it from trying hosts this machine cannot reach.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
