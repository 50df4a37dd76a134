/**
 * Fair measurement on a small machine: the target and the load generator on disjoint cores
 * (`--pin`, on by default with `--compare`), so the target's latency and CPU are not the
 * generator's. The target gets the last core (our relay, Socket.IO and bare uWS each run
 * their JavaScript on one thread, so one core is what each can use), the harness the others.
 * Uses `taskset -a -p` (util-linux): every thread of the process, and the threads it starts
 * later inherit the affinity.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface PinPlan {
  /** CPU list for taskset, e.g. "1". */
  target: string;
  harness: string;
}

/** Null when the machine has fewer than 2 cores or taskset is missing. */
export function pinPlan(cores = availableParallelism()): PinPlan | null {
  if (cores < 2 || !hasTaskset()) return null;
  const last = cores - 1;
  return { target: String(last), harness: last === 1 ? '0' : `0-${last - 1}` };
}

let taskset: boolean | undefined;
function hasTaskset(): boolean {
  if (taskset === undefined) {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      taskset = true;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

/** Pins every thread of `pid` to `cpus`; throws when taskset refuses. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
