/**
 * What a process holds, read from /proc (proc(5)): its threads by name and
 * its open file descriptors. A monitor's capture thread names itself
 * "passive-rtt" and its engine thread (with `threads: 2`) is named
 * "passive-rtt-eng" (pthread_setname_np(3)), so a leaked one shows up here.
 */
import fs from 'node:fs';

/** The name of the capture threads (src-native/worker.cc). */
export const CAPTURE_THREAD = 'passive-rtt';
/** The name of the engine threads (src-native/engine_thread.cc). */
export const ENGINE_THREAD = 'passive-rtt-eng';

/** Names of the threads of a process (/proc/PID/task/TID/comm). */
export function threadNames(pid: number | 'self' = 'self'): string[] {
  const names: string[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return names; // the process is gone
  }
  for (const tid of tasks) {
    try {
      names.push(fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    } catch {
      // the thread ended between readdir and read
    }
  }
  return names;
}

/** How many capture threads the process has. */
export function captureThreads(pid: number | 'self' = 'self'): number {
  return threadNames(pid).filter((n) => n === CAPTURE_THREAD).length;
}

/** How many monitor threads, capture and engine, the process has. */
export function monitorThreads(pid: number | 'self' = 'self'): number {
  return threadNames(pid).filter((n) => n === CAPTURE_THREAD || n === ENGINE_THREAD).length;
}

/** Open file descriptors of this process, by target (sockets, files, eventfds, ...). */
export function openFds(): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the descriptor used by readdir itself, closed by now
    }
  }
  return out.sort();
}

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Resident set size of this process in kB (VmRSS of /proc/self/status). */
export function rssKb(): number {
  return statusKb('VmRSS');
}

/** Its anonymous part (RssAnon: the heaps, not mapped files or a capture ring). */
export function rssAnonKb(): number {
  return statusKb('RssAnon');
}

/**
 * Polls until the process has no monitor thread (capture or engine) left,
 * for up to `ms`:
 * a joined thread may stay listed in /proc/PID/task for a moment (the
 * kernel wakes the joiner before it has reaped the task).
 */
export async function waitNoMonitorThreads(ms = 2000, pid: number | 'self' = 'self'): Promise<number> {
  const until = Date.now() + ms;
  for (;;) {
    const n = monitorThreads(pid);
    if (n === 0 || Date.now() >= until) return n;
    await new Promise((r) => setTimeout(r, 10));
  }
}
