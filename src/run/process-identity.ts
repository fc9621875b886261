/**
 * Telling a process apart from a later one that got the same pid: the lock's
 * owner, and the curl/ncftpput programs a run started. A run that died
 * without a report (kill -9, Task Scheduler's "End task", a power cut) leaves
 * these marks in its lock; the next run uses them to tell whether that run is
 * really gone and whether a program it started still uploads.
 *
 * "Proven" means: on Linux, /proc shows the pid with the same start time in
 * clock ticks since boot (exact) and the same program name; on Windows, which
 * has no /proc, PowerShell's Get-Process shows the pid with the same program
 * name and a start time within START_TOLERANCE_MS of the one recorded. Where
 * neither can be asked (another system, no PowerShell), a live pid is
 * 'unknown': never ended, only reported.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What identifies one process, recorded while it runs. */
export interface ProcessMark {
  readonly pid: number;
  /** The program's name as the system lists it, without `.exe`: `curl`, `ncftpput`, `node`; unknown in locks of older versions. */
  readonly program?: string;
  /** When it started, by this machine's clock (ISO 8601). */
  readonly startedAt: string;
  /** Linux: its start time in clock ticks since boot (/proc/<pid>/stat, field 22). */
  readonly processStart?: string;
}

/** 'running': proven to be the recorded process; 'gone': it ended (its pid is free or another program's); 'unknown': this system cannot tell. */
export type Presence = 'running' | 'gone' | 'unknown';

/**
 * A program's start as Windows reports it and as vmftp recorded it differ by the time spawn()
 * takes to return, well under a second; a pid reused by the same program within this much
 * of the original's start is not a case that happens.
 */
const START_TOLERANCE_MS = 5000;

/** How long PowerShell may take to answer (its first start on a cold machine is slow). */
const POWERSHELL_TIMEOUT_MS = 15_000;

/** A process whose program is known: what vmftp records of the processes it starts. */
export type ProgramMark = ProcessMark & { readonly program: string };

/** Returns the mark of a running process, `startedAt` by this machine's clock. */
export function markProcess(pid: number, program: string, startedAt: Date): ProgramMark {
  const stat = linuxStat(pid);
  return { pid, program, startedAt: startedAt.toISOString(), ...(stat === undefined ? {} : { processStart: stat.start }) };
}

/** Returns whether the process of `mark` still runs (see the header for what proves it). */
export function presenceOf(mark: ProcessMark): Presence {
  if (!pidExists(mark.pid)) return 'gone';
  if (process.platform === 'linux') return judgeLinux(mark, linuxStat(mark.pid));
  if (process.platform === 'win32') return judgeWindows(mark, windowsProcess(mark.pid));
  return 'unknown';
}

/** What /proc says about a live pid, or undefined when it has no entry. */
export interface LinuxStat {
  /** The command name (at most 15 characters). */
  readonly command: string;
  /** R, S, D, Z (zombie: it has ended, nobody reaped it yet)... */
  readonly state: string;
  /** The parent's pid. */
  readonly ppid: number;
  /** Start time in clock ticks after boot (field 22): with the pid, it names one process. */
  readonly start: string;
}

/** Returns the presence of `mark`'s process from what /proc says about its pid. */
export function judgeLinux(mark: ProcessMark, stat: Omit<LinuxStat, 'ppid'> | undefined): Presence {
  if (stat === undefined || stat.state === 'Z') return 'gone';
  // The kernel keeps 15 characters of the name.
  if (mark.program !== undefined && stat.command !== mark.program.slice(0, 15)) return 'gone';
  if (mark.processStart === undefined) return 'unknown';
  return stat.start === mark.processStart ? 'running' : 'gone';
}

/** What Get-Process says about a live pid; undefined when PowerShell could not be asked. */
export interface WindowsProcess {
  readonly name: string;
  readonly startedAt: Date;
}

/** Returns the presence of `mark`'s process from what Get-Process says about its pid. */
export function judgeWindows(mark: ProcessMark, seen: WindowsProcess | 'no such process' | undefined): Presence {
  if (seen === 'no such process') return 'gone';
  // Without the name, a start time alone does not prove it: a lock of an older version only recorded when the run began.
  if (seen === undefined || mark.program === undefined) return 'unknown';
  if (seen.name.toLowerCase() !== mark.program.toLowerCase()) return 'gone';
  return Math.abs(seen.startedAt.getTime() - Date.parse(mark.startedAt)) <= START_TOLERANCE_MS ? 'running' : 'gone';
}

/** Returns the first line PowerShell printed as name and start time (`curl|2026-11-28T19:25:55.1234567Z`). */
export function parseGetProcess(stdout: string): WindowsProcess | 'no such process' | undefined {
  const line = stdout.trim().split(/\r?\n/)[0] ?? '';
  if (line === 'none') return 'no such process';
  const [name, started] = line.split('|');
  const startedAt = new Date(started ?? '');
  return name === undefined || name === '' || Number.isNaN(startedAt.getTime()) ? undefined : { name, startedAt };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns what /proc/<pid>/stat says about `pid`, or undefined when it has no entry (Linux only). */
export function linuxStat(pid: number): LinuxStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2, the command, is in parentheses and may hold spaces: count from the last ')'.
  // What follows starts at field 3 (state); ppid is field 4, starttime field 22.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    command: text.slice(text.indexOf('(') + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    start: fields[19] ?? '',
  };
}

function windowsProcess(pid: number): WindowsProcess | 'no such process' | undefined {
  const script =
    `$p = Get-Process -Id ${pid} -ErrorAction SilentlyContinue; ` +
    `if ($p) { $p.ProcessName + '|' + $p.StartTime.ToUniversalTime().ToString('o') } else { 'none' }`;
  const result = spawnSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', script], {
    encoding: 'utf8',
    timeout: POWERSHELL_TIMEOUT_MS,
    windowsHide: true,
  });
  return result.status === 0 ? parseGetProcess(result.stdout) : undefined;
}
