import { ScenarioKind, type Scenario } from '../types.js';

/**
 * Reconnect storms while messages flow: every 6 s a third of the clients drop abruptly and
 * come back together 1.5 s later, resuming with `join after` and resending unacked
 * messages with the same id. Nothing may be lost, duplicated or stored twice.
 */
export const scenario: Scenario = {
  name: 'churn',
  description: '500 clients in 50 conversations of 10 at 200 msgs/s; every 6 s a third drop and reconnect 1.5 s later, ~35 s',
  kind: ScenarioKind.churn,
  clients: 500,
  conversations: 50,
  stages: [
    { duration: 2, rate: 200 },
    { duration: 28, rate: 200 },
    { duration: 2, rate: 0 },
  ],
  churn: { everySeconds: 6, fraction: 1 / 3, downMs: 1500 },
  thresholds: ['lost == 0', 'duplicated == 0', 'reordered == 0', 'unacked == 0', 'duplicate_ids == 0', 'reconnects > 0'],
  drainSeconds: 20,
};
