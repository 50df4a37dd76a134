import { ScenarioKind, type Scenario } from '../types.js';

/** The default: many small conversations at a steady 10,000 deliveries/s. */
export const scenario: Scenario = {
  name: 'fanout',
  description: '2,000 clients in 200 conversations of 10, ramp to 1,000 msgs/s = 10,000 deliveries/s, ~45 s',
  kind: ScenarioKind.load,
  clients: 2000,
  conversations: 200,
  stages: [
    { duration: 5, rate: 1000 },
    { duration: 30, rate: 1000 },
    { duration: 2, rate: 0 },
  ],
  thresholds: ['fanout_p99_ms < 50', 'lost == 0', 'duplicated == 0', 'reordered == 0', 'unacked == 0', 'duplicate_ids == 0'],
};
