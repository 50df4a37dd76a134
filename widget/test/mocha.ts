/**
 * Typed handles on the mocha globals that web-test-runner installs before a test file
 * loads. Imported instead of @types/mocha so that the repo's one tsconfig (types: node)
 * needs no test-runner-specific global types.
 */
type Test = () => void | Promise<void>;

interface MochaGlobals {
  describe(name: string, body: () => void): void;
  it(name: string, body: Test): void;
  before(body: Test): void;
  after(body: Test): void;
  beforeEach(body: Test): void;
  afterEach(body: Test): void;
}

const globals = globalThis as unknown as MochaGlobals;

export const describe = globals.describe;
export const it = globals.it;
export const before = globals.before;
export const after = globals.after;
export const beforeEach = globals.beforeEach;
export const afterEach = globals.afterEach;
