/**
 * What a target process costs, read from /proc (Linux): CPU time and resident memory of a
 * process the harness started, plus the open-file limit that caps how many sockets a run
 * may open.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds a process has used so far, or null if it cannot be read. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, i.e. 11 and 12 after the name.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** A field of /proc/<pid>/status in kB (e.g. VmRSS, VmHWM), or null. */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export const rssKb = (pid: number): number | null => statusKb(pid, 'VmRSS');
/** Peak resident set size over the process's life. */
export const peakRssKb = (pid: number): number | null => statusKb(pid, 'VmHWM');

/** Sums a per-process reading over several processes (a cluster), null if any is unreadable. */
export function sumOver(pids: readonly number[], read: (pid: number) => number | null): number | null {
  if (pids.length === 0) return null;
  let total = 0;
  for (const pid of pids) {
    const value = read(pid);
    if (value === null) return null;
    total += value;
  }
  return total;
}

/** The soft and hard limits on open files of this process (inherited by the targets it starts). */
export function openFileLimit(): { soft: number; hard: number } {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
    const parse = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    if (match) return { soft: parse(match[1]), hard: parse(match[2]) };
  } catch {
    // not Linux: assume the common default
  }
  return { soft: 1024, hard: 1024 };
}

/** The 1-minute load average, or null (not Linux). */
export function loadAverage(): number | null {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}
