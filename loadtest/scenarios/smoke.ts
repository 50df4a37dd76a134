import { ScenarioKind, type Scenario } from '../types.js';

/** A quick end-to-end proof (CI): a few clients, every delivery accounted for. */
export const scenario: Scenario = {
  name: 'smoke',
  description: '20 clients in 4 conversations of 5, ramp to 50 msgs/s (250 deliveries/s), ~15 s',
  kind: ScenarioKind.load,
  clients: 20,
  conversations: 4,
  stages: [
    { duration: 2, rate: 50 },
    { duration: 6, rate: 50 },
    { duration: 1, rate: 0 },
  ],
  thresholds: ['lost == 0', 'duplicated == 0', 'reordered == 0', 'unacked == 0', 'duplicate_ids == 0', 'fanout_p99_ms < 100'],
  drainSeconds: 10,
};
