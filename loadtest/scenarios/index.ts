/**
 * The built-in scenarios by name. A scenario may also be any module path exporting
 * `scenario` (or a default export) of type Scenario: see loadScenario in ../cli.ts.
 */
import type { Scenario } from '../types.js';
import { scenario as capacity } from './capacity.js';
import { scenario as churn } from './churn.js';
import { scenario as connections } from './connections.js';
import { scenario as fanout } from './fanout.js';
import { scenario as smoke } from './smoke.js';

export const SCENARIOS: Readonly<Record<string, Scenario>> = { smoke, fanout, capacity, connections, churn };
