import { ScenarioKind, type Scenario } from '../types.js';

/** Many idle connections: the target's memory per connection; then a little traffic to prove they all live. */
export const scenario: Scenario = {
  name: 'connections',
  description: '10,000 idle clients in 1,000 conversations of 10: RSS per connection; then 100 msgs/s for 5 s',
  kind: ScenarioKind.connections,
  clients: 10_000,
  conversations: 1000,
  stages: [
    { duration: 3, rate: 0 },
    { duration: 0, rate: 100 },
    { duration: 5, rate: 100 },
    { duration: 0, rate: 0 },
    { duration: 1, rate: 0 },
  ],
  thresholds: ['unjoined == 0', 'lost == 0', 'duplicated == 0', 'reordered == 0', 'unacked == 0'],
};
