import type cliProgress from 'cli-progress';
import type { Plan } from '../core/model.js';
import type { TransferObserver } from '../run/execute.js';
import { formatBytes, formatDuration, formatSpeed } from './format.js';

/** A progress display: the executor's observer, plus a way to print log lines without tearing it. */
export interface Progress extends TransferObserver {
  /** Writes a log line (ending in "\n") where it does not break the display. */
  log(line: string): void;
  /** Ends the display (bars are drawn one last time); safe to call more than once. */
  stop(): void;
}

export interface ProgressOptions {
  /** Where the display goes: stderr, so stdout keeps only the report. */
  readonly stream: NodeJS.WriteStream | (NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number });
  /** The clock, for tests. */
  readonly now?: () => number;
  /** Plain mode: a line at each further 10 % (at most every intervalMs / 6) and at least every intervalMs while bytes move (default 60 s). */
  readonly intervalMs?: number;
}

/**
 * Returns the display that fits the stream: bars on a terminal, plain lines anywhere else.
 * cli-progress is loaded only when bars are drawn: with its string-width and emoji-regex it would
 * cost every run's start, and scheduled tasks and cron have no terminal to draw them on.
 */
export async function createProgress(options: ProgressOptions): Promise<Progress> {
  if (options.stream.isTTY !== true) return new LineProgress(options);
  const { default: bars } = await import('cli-progress');
  return new BarProgress(options, bars);
}

/** Returns a display that shows nothing (`--no-progress`, `-S`, a quiet `-v`). */
export function noProgress(write: (line: string) => void = (line) => process.stderr.write(line)): Progress {
  return { start: () => undefined, file: () => ({ onBytes: () => undefined, end: () => undefined }), log: write, stop: () => undefined };
}

/** Bytes of every upload and resume the plan holds. */
function plannedBytes(plan: Plan): number {
  return plan.targets.reduce(
    (sum, target) =>
      sum +
      target.vms.reduce(
        (vmSum, vm) =>
          vmSum + vm.actions.reduce((actionSum, action) => actionSum + (action.type === 'upload' || action.type === 'resume' ? action.bytes : 0), 0),
        0,
      ),
    0,
  );
}

/** Returns "12.3 MB/s" and an ETA from bytes done over time spent; "-" until there is something to go on. */
function rate(done: number, total: number, elapsedMs: number): { speed: string; eta: string } {
  if (done === 0 || elapsedMs <= 0) return { speed: '-', eta: '-' };
  const perMs = done / elapsedMs;
  return { speed: formatSpeed(done, elapsedMs), eta: formatDuration(Math.max(0, total - done) / perMs) };
}

/** Counts the bytes of the run: every file's progress adds to one total. */
class Totals {
  total = 0;
  done = 0;
  startedAt: number | undefined;

  constructor(readonly now: () => number) {}

  start(plan: Plan): void {
    this.total = plannedBytes(plan);
    this.startedAt = this.now();
  }

  /** Returns a callback taking a transfer's cumulative bytes and adding only what is new. */
  counter(after: (delta: number) => void): (bytes: number) => void {
    let seen = 0;
    return (bytes) => {
      const delta = bytes - seen;
      if (delta <= 0) return;
      seen = bytes;
      this.done += delta;
      after(delta);
    };
  }

  elapsed(): number {
    return this.startedAt === undefined ? 0 : this.now() - this.startedAt;
  }

  percent(): number {
    return this.total === 0 ? 100 : Math.min(100, Math.floor((this.done / this.total) * 100));
  }
}

/** Plain lines for Task Scheduler, cron, pipes and CI: no cursor movement, nothing that waits for a console. */
class LineProgress implements Progress {
  readonly #totals: Totals;
  readonly #write: (line: string) => void;
  readonly #intervalMs: number;
  #lastStep = 0;
  #lastLineAt = 0;
  /** The file whose bytes moved last: with files side by side, the one the line is about. */
  #current = '';

  constructor(options: ProgressOptions) {
    this.#totals = new Totals(options.now ?? Date.now);
    this.#write = (line) => options.stream.write(line);
    this.#intervalMs = options.intervalMs ?? 60_000;
  }

  start(plan: Plan): void {
    this.#totals.start(plan);
    this.#lastLineAt = this.#totals.now();
  }

  file(target: string, name: string): { onBytes: (bytes: number) => void; end: () => void } {
    const label = `${target}: ${name}`;
    return {
      onBytes: this.#totals.counter(() => {
        this.#current = label;
        this.#maybeLine();
      }),
      end: () => undefined,
    };
  }

  /**
   * A line at most every `intervalMs / 6` (10 s by default), and only when another 10 % went
   * out or `intervalMs` passed without one: a run that ends within 10 s prints none.
   */
  #maybeLine(): void {
    const step = Math.floor(this.#totals.percent() / 10);
    const now = this.#totals.now();
    const since = now - this.#lastLineAt;
    if (since < this.#intervalMs / 6) return;
    if (step <= this.#lastStep && since < this.#intervalMs) return;
    this.#lastStep = Math.max(step, this.#lastStep);
    this.#lastLineAt = now;
    const { done, total } = this.#totals;
    const { speed, eta } = rate(done, total, this.#totals.elapsed());
    this.#write(
      `progress: ${this.#totals.percent()}% — ${formatBytes(done)} of ${formatBytes(total)}, ${speed}, ETA ${eta} (${this.#current})\n`,
    );
  }

  log(line: string): void {
    this.#write(line);
  }

  stop(): void {
    this.#current = '';
  }
}

interface BarPayload {
  readonly name: string;
  readonly bytes: string;
  readonly speed: string;
  readonly remaining: string;
}

/** A bar per file being sent and one for the whole run, redrawn in place on the terminal. */
class BarProgress implements Progress {
  readonly #totals: Totals;
  readonly #bars: cliProgress.MultiBar;
  readonly #stream: ProgressOptions['stream'];
  #overall: cliProgress.SingleBar | undefined;
  #stopped = false;
  /** Lines given to log() that the bars have not drawn yet. */
  readonly #pending: string[] = [];

  constructor(options: ProgressOptions, bars: typeof cliProgress) {
    this.#totals = new Totals(options.now ?? Date.now);
    this.#stream = options.stream;
    this.#bars = new bars.MultiBar(
      {
        stream: options.stream,
        format: '{name} {bar} {percentage}% | {bytes} | {speed} | ETA {remaining}',
        barsize: 24,
        // The cursor stays visible: a run stopped with Ctrl-C must not leave the terminal without one.
        hideCursor: false,
        clearOnComplete: false,
        autopadding: true,
        fps: 5,
      },
      bars.Presets.shades_classic,
    );
    this.#bars.on('redraw-post', () => this.#pending.splice(0));
  }

  #payload(name: string, done: number, total: number, elapsedMs: number): BarPayload {
    const { speed, eta } = rate(done, total, elapsedMs);
    // Not `eta`: cli-progress fills that token itself, in seconds.
    return { name, bytes: `${formatBytes(done)}/${formatBytes(total)}`, speed, remaining: eta };
  }

  start(plan: Plan): void {
    this.#totals.start(plan);
    if (this.#totals.total === 0 || this.#stopped) return;
    this.#overall = this.#bars.create(this.#totals.total, 0, this.#payload('total', 0, this.#totals.total, 0));
  }

  file(target: string, name: string, bytes: number): { onBytes: (bytes: number) => void; end: () => void } {
    if (this.#stopped) return { onBytes: () => undefined, end: () => undefined };
    const label = `${target}: ${name}`;
    const shown = label.length > 40 ? `…${label.slice(-39)}` : label;
    const started = this.#totals.now();
    const bar = this.#bars.create(bytes, 0, this.#payload(shown, 0, bytes, 0));
    let sent = 0;
    const onBytes = this.#totals.counter((delta) => {
      sent += delta;
      bar.update(sent, this.#payload(shown, sent, bytes, this.#totals.now() - started));
      this.#overall?.update(
        this.#totals.done,
        this.#payload('total', this.#totals.done, this.#totals.total, this.#totals.elapsed()),
      );
    });
    return {
      onBytes,
      end: () => {
        this.#bars.remove(bar);
      },
    };
  }

  log(line: string): void {
    if (this.#stopped || !this.#bars.isActive) this.#stream.write(line);
    else {
      this.#pending.push(line);
      this.#bars.log(line);
    }
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // stop() draws the bars one last time but drops lines still waiting in log(): a redraw flushes them.
    // A run with nothing to send never drew a bar: stop() would still print an empty line.
    if (!this.#bars.isActive) return;
    this.#bars.stop();
    // stop() draws the bars a last time but drops lines log() still holds for the next redraw.
    for (const line of this.#pending.splice(0)) this.#stream.write(line);
  }
}
