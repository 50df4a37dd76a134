/**
 * The harness's own arithmetic: thresholds, stage schedules, scenario shaping, the
 * open-file fit and the HTML data alignment. Pure functions, no sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoWorkers, fitToFileLimit, HELP, shape } from './cli.js';
import { align } from './html.js';
import { capacityStages, scheduleAt, totalSeconds } from './runner.js';
import { SCENARIOS } from './scenarios/index.js';
import { evaluateThresholds, parseThreshold, ThresholdSyntaxError } from './thresholds.js';
import type { RunResult } from './types.js';

const result = (over: Partial<RunResult>): RunResult =>
  ({
    fanout_ms: { p50: 1, p95: 2, p99: 30, max: 40, mean: 1, count: 10 },
    ack_ms: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1, count: 10 },
    connect_ms: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1, count: 10 },
    lost: 0,
    errors: {},
    relay_cpu_s: null,
    capacity: null,
    ...over,
  }) as RunResult;

test('thresholds - parse "metric op number" and evaluate against a result', () => {
  const outcome = evaluateThresholds(result({ lost: 2 }), ['fanout_p99_ms < 50', 'lost == 0', 'fanout_max_ms>=40']);
  assert.deepEqual(
    outcome.map((t) => [t.expression, t.value, t.ok]),
    [
      ['fanout_p99_ms < 50', 30, true],
      ['lost == 0', 2, false],
      ['fanout_max_ms>=40', 40, true],
    ],
  );
});

test('thresholds - an unmeasured metric fails rather than passes', () => {
  const [outcome] = evaluateThresholds(result({}), ['relay_cpu_s < 100']);
  assert.equal(outcome!.value, null);
  assert.equal(outcome!.ok, false);
});

test('thresholds - typos and unknown metrics are refused up front', () => {
  assert.throws(() => parseThreshold('fanout_p99 < 50'), ThresholdSyntaxError);
  assert.throws(() => parseThreshold('lost = 0'), ThresholdSyntaxError);
  assert.throws(() => parseThreshold('lost == zero'), ThresholdSyntaxError);
});

test('thresholds - every built-in scenario threshold parses', () => {
  for (const scenario of Object.values(SCENARIOS)) for (const t of scenario.thresholds) parseThreshold(t);
});

test('stages - rate and clients ramp linearly between stages and jump on zero-length stages', () => {
  const stages = [
    { duration: 10, rate: 100, clients: 20 },
    { duration: 10, rate: 100 },
    { duration: 0, rate: 500 },
    { duration: 5, rate: 500 },
  ];
  assert.deepEqual(scheduleAt(stages, 0, 10), { rate: 0, clients: 10 });
  assert.deepEqual(scheduleAt(stages, 5, 10), { rate: 50, clients: 15 });
  assert.deepEqual(scheduleAt(stages, 15, 10), { rate: 100, clients: 20 });
  assert.deepEqual(scheduleAt(stages, 21, 10), { rate: 500, clients: 20 });
  assert.deepEqual(scheduleAt(stages, 99, 10), { rate: 500, clients: 20 });
  assert.equal(totalSeconds(stages), 25);
});

test('stages - a capacity plan becomes flat steps of growing rate', () => {
  const stages = capacityStages({ ...SCENARIOS['capacity']!, capacity: { startRate: 100, stepFactor: 2, stepSeconds: 3, maxSteps: 3, p99LimitMs: 50 } });
  assert.deepEqual(stages.filter((s) => s.duration > 0).map((s) => s.rate), [100, 200, 400]);
  assert.equal(scheduleAt(stages, 3.5, 1).rate, 200);
});

test('scenarios - shaping keeps the conversation size and scales rates', () => {
  const fanout = SCENARIOS['fanout']!;
  const small = shape(fanout, { clients: 100 });
  assert.equal(small.clients / small.conversations, fanout.clients / fanout.conversations);
  const half = shape(fanout, { scale: 0.5 });
  assert.equal(half.clients, 1000);
  assert.equal(Math.max(...half.stages.map((s) => s.rate)), 500);
  const faster = shape(fanout, { rate: 3000 });
  assert.equal(Math.max(...faster.stages.map((s) => s.rate)), 3000);
  assert.equal(fanout.clients, 2000, 'the built-in scenario is not modified');
});

test('scenarios - too few open files scale the run down instead of failing halfway', () => {
  const connections = SCENARIOS['connections']!;
  const fitted = fitToFileLimit(connections, 1024);
  assert.ok(fitted.scenario.clients <= 1024 - 256);
  assert.equal(fitted.scenario.clients / fitted.scenario.conversations, connections.clients / connections.conversations);
  assert.match(fitted.warning ?? '', /ulimit -n/);
  assert.equal(fitToFileLimit(connections, 65536).warning, null);
});

test('workers - one for small loads, at most two on two cores', () => {
  assert.equal(autoWorkers(SCENARIOS['smoke']!, 2), 1);
  assert.equal(autoWorkers(SCENARIOS['fanout']!, 2), 2);
  assert.equal(autoWorkers(SCENARIOS['capacity']!, 2), 2);
  assert.equal(autoWorkers(SCENARIOS['fanout']!, 1), 1);
  assert.ok(autoWorkers(SCENARIOS['capacity']!, 16) <= 4);
});

test('html - series with different x values are aligned with gaps', () => {
  assert.deepEqual(
    align([
      [[1, 10], [2, 20]],
      [[2, 5], [3, 6]],
    ]),
    [
      [1, 2, 3],
      [10, 20, null],
      [null, 5, 6],
    ],
  );
});

test('cli - help documents every target and the output flags', () => {
  for (const word of ['--target', 'relay', 'cluster', 'socketio', 'uws', '--url', '--compare', '--json', '--html', '--threshold']) {
    assert.ok(HELP.includes(word), word);
  }
});
