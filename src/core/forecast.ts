/**
 * How long each target's uploads take, forecast for `--simulate`, all targets together as the run
 * sends them (each target's files side by side, as many as its connections): the run's bandwidth
 * limit shared among the transfers under way, each target within its own limit and the speed the
 * last run measured there; and, with a deadline, which backups would not be complete by then, or
 * that this cannot be judged where the time is unknown. Pure: the clock, the limits and the
 * measured speeds are parameters.
 */
import { format } from 'date-fns/format';
import { linkSpeedOf, type LinkSpeed } from './link-speed.js';
import type { Forecast, ForecastDeferred, MeasuredSpeed, Plan, RateBasis, ScheduledUpload, TargetForecast, TargetPlan } from './model.js';

/** Returns the bytes per second a limit allows at `time`, or undefined when no limit is in force then. */
export type LimitAt = (time: Date) => number | undefined;

/** One upload as the forecast sends it: the bytes each of its files still sends (they add up to `bytes`). */
export interface LoadUpload extends ScheduledUpload {
  readonly files: readonly number[];
}

/** One target's part of the forecast. */
export interface TargetLoad {
  readonly target: string;
  /** Its uploads in the order they start (TargetPlan.order). */
  readonly uploads: readonly LoadUpload[];
  /** How many files it sends at once at most (its maxConnections): its transfers' part of the run's limit. */
  readonly connections: number;
  /** Its own bandwidth limit (`targets.<name>.bwlimit`); absent: it has none. */
  readonly limitAt?: LimitAt;
  /** The last run's speed on this target; absent: none measured yet, or the record is unreadable. */
  readonly measured?: MeasuredSpeed;
}

export interface ForecastInput {
  /** When the uploads start: now. */
  readonly start: Date;
  readonly targets: readonly TargetLoad[];
  /** The run's bandwidth limit (`bwlimit`, `--bwlimit`), shared by every transfer of every target; absent: none. */
  readonly runLimitAt?: LimitAt;
  /** Why there is no measured speed when it is not that no run measured one yet (an unreadable record). */
  readonly measuredUnreadable?: string;
  /** No transfer starts after this, and the running ones stop. */
  readonly deadline?: Date;
}

/** What a plan's forecast is made from, besides the plan. */
export interface ForecastContext {
  readonly start: Date;
  /** The last measured speed per target name. */
  readonly measured: Readonly<Record<string, MeasuredSpeed>>;
  readonly measuredUnreadable?: string;
  /** The run's bandwidth limit; absent: none. */
  readonly runLimitAt?: LimitAt;
  /** Returns a target's own bandwidth limit, undefined for none. */
  readonly limitFor?: (target: string) => LimitAt | undefined;
  /** Returns how many files a target sends at once at most (its maxConnections). */
  readonly connectionsOf: (target: string) => number;
  readonly deadline?: { readonly at: Date; readonly by: string };
}

/** Limits change at whole minutes (a timetable says HH:MM): within one, they are constant. */
const STEP_MS = 60_000;
/** Uploads that would take longer than this get no estimate: some limit in force is as good as zero. */
const HORIZON_MS = 366 * 24 * 3_600_000;

/** Returns the forecast of every target of `plan` (see forecastTargets). */
export function forecastPlan(plan: Plan, context: ForecastContext): Forecast {
  const { start, deadline } = context;
  const targets = plan.targets.map((targetPlan): TargetLoad => {
    const limitAt = context.limitFor?.(targetPlan.target);
    const measured = Object.hasOwn(context.measured, targetPlan.target) ? context.measured[targetPlan.target] : undefined;
    return {
      target: targetPlan.target,
      uploads: loadOf(targetPlan),
      connections: context.connectionsOf(targetPlan.target),
      ...(limitAt === undefined ? {} : { limitAt }),
      ...(measured === undefined ? {} : { measured }),
    };
  });
  return {
    from: start.toISOString(),
    ...(deadline === undefined ? {} : { deadline: { at: deadline.at.toISOString(), by: deadline.by } }),
    targets: forecastTargets({
      start,
      targets,
      ...(context.runLimitAt === undefined ? {} : { runLimitAt: context.runLimitAt }),
      ...(context.measuredUnreadable === undefined ? {} : { measuredUnreadable: context.measuredUnreadable }),
      ...(deadline === undefined ? {} : { deadline: deadline.at }),
    }),
  };
}

/**
 * Returns a target's uploads in start order, each with the bytes its files still send (a file only
 * verified sends none); an upload whose files are not listed is one transfer of its bytes.
 */
function loadOf(targetPlan: TargetPlan): LoadUpload[] {
  return targetPlan.order.map((upload) => {
    const action = targetPlan.vms
      .find((vmPlan) => vmPlan.vm === upload.vm)
      ?.actions.find((candidate) => candidate.stamp === upload.stamp && (candidate.type === 'upload' || candidate.type === 'resume'));
    const listed = action?.type === 'upload' || action?.type === 'resume' ? action.files.map((file) => file.size - file.offset) : [];
    const files = listed.reduce((sum, bytes) => sum + bytes, 0) === upload.bytes ? listed : [upload.bytes];
    return { ...upload, files: files.filter((bytes) => bytes > 0) };
  });
}

/** One file of a target's uploads while the forecast runs. */
interface FileFlow {
  /** Which of the target's uploads it belongs to (its index in TargetLoad.uploads). */
  readonly upload: number;
  readonly bytes: number;
  sent: number;
}

/** One target while the forecast runs. */
interface Flow {
  readonly load: TargetLoad;
  readonly bytes: number;
  /** The link's speed the last run measured there; undefined: none. */
  readonly measured: LinkSpeed | undefined;
  /** Its files in the order their transfers start (the executor's turns: upload by upload, file by file). */
  readonly files: readonly FileFlow[];
  /** The files under way: at most its connections, the next ones starting as these end. */
  readonly active: FileFlow[];
  /** The files of each upload not ended yet. */
  readonly filesLeft: number[];
  /** When each upload ends (ms), as far as the forecast got; undefined: not yet. */
  readonly ends: (number | undefined)[];
  readonly basis: Set<RateBasis>;
  /** The other targets that took a share of the run's limit while it held this one back. */
  readonly sharedWith: Set<string>;
  /** Why the link may be faster than the measured speed the forecast used: its time is then at most its estimate. */
  atMost?: string;
  /** The next of `files` to start. */
  nextFile: number;
  startRate?: number;
  /** The bytes of each upload sent by the deadline, once the forecast reached it. */
  sentByDeadline?: number[];
  /** Why its time is unknown, and from when (ms): a moment with no rate for it. */
  unknown?: { readonly reason: string; readonly from: number };
}

/** What holds a target back for a while: its rate, and the limit or speed that sets it. */
interface Share {
  readonly rate: number;
  readonly basis: RateBasis;
  /** True when its part of the run's limit is what holds it. */
  readonly byRunLimit: boolean;
}

/**
 * Returns the forecast of every target, all sending at once, as the executor sends them: its
 * bytes, how long its uploads take and when they end; with a deadline, the uploads that would
 * not end by it. Within a target the files start in the order of its uploads (each upload's
 * files in turn), as many under way at once as its connections allow, the next one starting when
 * one ends (run/execute.ts); the target's rate is shared evenly among its files under way, so
 * uploads started together end together. At each moment a target sends at most its own limit in
 * force and the speed the last run measured there (the link's, or one the link reaches at least:
 * then its time is at most the estimate, core/link-speed.ts), and the run's limit in force is
 * shared among the transfers under way, evenly by bytes, as the limiter shares it
 * (backends/bandwidth.ts): a target held below its part by its own limit or speed leaves the rest
 * to the others, and one that is done frees its part.
 *
 * A target with neither a limit nor a measured speed at some moment has no time from then on
 * (`unknown`): it still holds its transfers, takes its full part of the run's limit wherever that
 * holds and is assumed to send nothing elsewhere, so it is not taken to free its part early and
 * the others' times are not too short. Likewise a measured speed that is only a lower bound of
 * the link's may be far below it: each target's time is the longest it can be, with its own such
 * speed as its rate and every other target's such speed no cap on its part of the run's limit;
 * an estimate longer for that says so (`atMost`).
 */
export function forecastTargets(input: ForecastInput): TargetForecast[] {
  const deadline = input.deadline?.getTime();
  const plain = simulate(input, new Set());
  const atLeast = new Set(input.targets.filter((load) => load.measured !== undefined && linkSpeedOf(load.measured)?.atLeast !== undefined).map((load) => load.target));
  if (atLeast.size === 0 || input.runLimitAt === undefined) return plain.map((flow) => forecastOf(flow, input.start, deadline));
  const others = simulate(input, atLeast);
  return input.targets.map((load, index) => {
    const uncapped = new Set([...atLeast].filter((target) => target !== load.target));
    // Its own lower bound the only one: nothing else is uncapped, and the plain forecast is the one.
    const flow = (uncapped.size === atLeast.size ? others : uncapped.size === 0 ? plain : simulate(input, uncapped))[index];
    const before = plain[index];
    if (flow === undefined || before === undefined) throw new Error(`no forecast of ${load.target}`);
    const later = flow.ends.some((end, upload) => (end ?? Number.POSITIVE_INFINITY) > (before.ends[upload] ?? Number.POSITIVE_INFINITY));
    const who = uncapped.size === 1 ? `${[...uncapped].join('')} takes its` : `${[...uncapped].join(', ')} take their`;
    return forecastOf(flow, input.start, deadline, later ? `the time assumes ${who} whole part of the bwlimit (a measured speed only a lower bound of the link's)` : undefined);
  });
}

/**
 * Returns every target's flow once the forecast sent all it could (see forecastTargets); a
 * measured speed of the targets in `uncapped` does not hold them below their part of the run's limit.
 */
function simulate(input: ForecastInput, uncapped: ReadonlySet<string>): Flow[] {
  const { start } = input;
  const deadline = input.deadline?.getTime();
  const flows = input.targets.map(flowOf);
  let now = start.getTime();
  for (const flow of flows.filter((candidate) => candidate.bytes === 0)) {
    const rate = ratesAt(input, [flow], start, uncapped)[0];
    if (rate === undefined) flow.unknown = { reason: unknownReason(input, flow.load), from: now };
    else flow.startRate = rate.rate;
  }
  let sending = flows.filter((flow) => flow.bytes > 0);
  if (deadline !== undefined && deadline <= now) for (const flow of sending) flow.sentByDeadline = flow.load.uploads.map(() => 0);

  // Until every target whose time is known is done: one whose time is unknown only matters for the others' parts.
  while (sending.some((flow) => flow.unknown === undefined)) {
    if (now - start.getTime() > HORIZON_MS) {
      for (const flow of sending) flow.unknown ??= { reason: 'the uploads would take more than a year at the bandwidth limits in force', from: now };
      break;
    }
    const time = new Date(now);
    const shares = ratesAt(input, sending, time, uncapped);
    sending.forEach((flow, index) => {
      const share = shares[index];
      if (share === undefined) {
        flow.unknown ??= { reason: unknownReason(input, flow.load, now === start.getTime() ? undefined : time), from: now };
        return;
      }
      if (flow.unknown !== undefined) return;
      flow.startRate ??= share.rate;
      flow.basis.add(share.basis);
      if (share.basis === 'measured') flow.atMost ??= flow.measured?.atLeast;
      if (share.byRunLimit) for (const other of sending) if (other !== flow) flow.sharedWith.add(other.load.target);
    });
    // Until the next minute, the deadline or the end of a file, whichever comes first: the rates hold until then.
    let until = (Math.floor(now / STEP_MS) + 1) * STEP_MS;
    if (deadline !== undefined && deadline > now) until = Math.min(until, deadline);
    const fileEndsAt = sending.map((flow, index) => fileEndAt(flow, shares[index]?.rate ?? 0, now));
    for (const end of fileEndsAt) until = Math.min(until, end);
    sending.forEach((flow, index) => advance(flow, shares[index]?.rate ?? 0, now, until, (fileEndsAt[index] ?? Infinity) <= until));
    now = until;
    if (deadline === now) for (const flow of flows) flow.sentByDeadline ??= sentPerUpload(flow);
    sending = sending.filter((flow) => flow.active.length > 0);
  }
  return flows;
}

function flowOf(load: TargetLoad): Flow {
  const { measured } = load;
  const files = load.uploads.flatMap((upload, index) => upload.files.map((bytes) => ({ upload: index, bytes, sent: 0 })));
  const flow: Flow = {
    load,
    bytes: files.reduce((sum, file) => sum + file.bytes, 0),
    measured: measured === undefined ? undefined : linkSpeedOf(measured),
    files,
    active: [],
    filesLeft: load.uploads.map((upload) => upload.files.length),
    // An upload with nothing left to send ends at once.
    ends: load.uploads.map((upload) => (upload.files.length === 0 ? Number.NEGATIVE_INFINITY : undefined)),
    basis: new Set(),
    sharedWith: new Set(),
    nextFile: 0,
  };
  startFiles(flow);
  return flow;
}

/** Starts `flow`'s next files while it has a connection free for them. */
function startFiles(flow: Flow): void {
  const connections = Math.max(1, flow.load.connections);
  while (flow.active.length < connections && flow.nextFile < flow.files.length) {
    const file = flow.files[flow.nextFile++];
    if (file !== undefined) flow.active.push(file);
  }
}

/** Returns the bytes of each of `flow`'s uploads sent so far. */
function sentPerUpload(flow: Flow): number[] {
  const sent = flow.load.uploads.map(() => 0);
  for (const file of flow.files) sent[file.upload] = (sent[file.upload] ?? 0) + file.sent;
  return sent;
}

/** Returns the bytes the first of `flow`'s files under way to end still sends: they all go at the same rate. */
function leastLeft(flow: Flow): number {
  return Math.min(...flow.active.map((file) => file.bytes - file.sent));
}

/** Returns when (ms) the first of `flow`'s files under way ends at `rate` (the target's, shared by its files) from `now` on; Infinity at no rate. */
function fileEndAt(flow: Flow, rate: number, now: number): number {
  return rate > 0 && flow.active.length > 0 ? now + (leastLeft(flow) * flow.active.length * 1000) / rate : Number.POSITIVE_INFINITY;
}

/**
 * Sends `flow`'s files under way at `rate`, shared evenly, from `from` to `until` (ms), noting the
 * end of every upload on the way and starting the next files; `fileEnds`: the first of them ends at
 * `until`, exactly (no rounding may leave a fraction of a byte, and the forecast without progress).
 */
function advance(flow: Flow, rate: number, from: number, until: number, fileEnds: boolean): void {
  if (flow.active.length === 0) return;
  const each = fileEnds ? leastLeft(flow) : (rate * (until - from)) / 1000 / flow.active.length;
  const least = leastLeft(flow);
  for (const file of [...flow.active]) {
    const left = file.bytes - file.sent;
    file.sent = fileEnds && left <= least ? file.bytes : Math.min(file.bytes, file.sent + each);
    if (file.sent < file.bytes) continue;
    flow.active.splice(flow.active.indexOf(file), 1);
    const filesLeft = (flow.filesLeft[file.upload] ?? 1) - 1;
    flow.filesLeft[file.upload] = filesLeft;
    if (filesLeft === 0) flow.ends[file.upload] = until;
  }
  startFiles(flow);
}

/**
 * Returns the rate of each of `flows` at `time`, undefined for one with no limit and no measured
 * speed while the run's limit is not in force either: each is held to its own limit and measured
 * speed, then the run's limit is shared among the transfers under way (each target's files
 * under way), the least one first, so that what one cannot use goes to the others. The measured
 * speed of a target in `uncapped` does not hold it while the run's limit is in force.
 */
function ratesAt(input: ForecastInput, flows: readonly Flow[], time: Date, uncapped: ReadonlySet<string>): (Share | undefined)[] {
  const runLimit = input.runLimitAt?.(time);
  const caps = flows.map((flow) => {
    const own = flow.load.limitAt?.(time);
    const measured = runLimit !== undefined && uncapped.has(flow.load.target) ? undefined : flow.measured?.bytesPerSecond;
    if (own === undefined) return measured === undefined ? undefined : { rate: measured, basis: 'measured' as const };
    return measured !== undefined && measured < own ? { rate: measured, basis: 'measured' as const } : { rate: own, basis: 'bwlimit' as const };
  });
  if (runLimit === undefined) return caps.map((cap) => (cap === undefined ? undefined : { ...cap, byRunLimit: false }));
  const transfers = flows.map((flow) => Math.max(1, flow.active.length));
  const shares: (Share | undefined)[] = flows.map(() => undefined);
  // Water-filling: the target whose cap per transfer is lowest takes its cap if its part allows it, and leaves the rest.
  const byCapPerTransfer = flows.map((_, index) => index).sort((a, b) => (caps[a]?.rate ?? Infinity) / (transfers[a] ?? 1) - (caps[b]?.rate ?? Infinity) / (transfers[b] ?? 1));
  let left = runLimit;
  let transfersLeft = transfers.reduce((sum, count) => sum + count, 0);
  for (const index of byCapPerTransfer) {
    const cap = caps[index];
    const count = transfers[index] ?? 1;
    const part = (left * count) / transfersLeft;
    shares[index] = cap !== undefined && cap.rate <= part ? { ...cap, byRunLimit: false } : { rate: part, basis: 'bwlimit', byRunLimit: true };
    left -= shares[index]?.rate ?? 0;
    transfersLeft -= count;
  }
  return shares;
}

/** Returns `flow`'s forecast; `outranBy`: why other targets may leave it more of the run's limit than its estimate assumes. */
function forecastOf(flow: Flow, start: Date, deadline: number | undefined, outranBy?: string): TargetForecast {
  const { target, measured } = flow.load;
  const { bytes } = flow;
  const deferred = deadline === undefined ? {} : deferredBy(flow, deadline);
  if (flow.unknown !== undefined || flow.startRate === undefined) return { target, bytes, noEstimate: flow.unknown?.reason ?? 'time unknown', ...deferred };
  const durationMs = Math.max(start.getTime(), ...flow.ends.map((end) => end ?? start.getTime())) - start.getTime();
  const atMost = [...(flow.atMost === undefined ? [] : [`the link may be faster: ${flow.atMost}`]), ...(outranBy === undefined ? [] : [outranBy])];
  return {
    target,
    bytes,
    estimate: {
      durationMs: Math.round(durationMs),
      endsAt: new Date(start.getTime() + durationMs).toISOString(),
      basis: [...flow.basis],
      startRate: flow.startRate,
      ...(flow.sharedWith.size === 0 ? {} : { sharedWith: [...flow.sharedWith] }),
      ...(atMost.length === 0 ? {} : { atMost: atMost.join('; ') }),
    },
    ...(flow.basis.has('measured') && measured !== undefined ? { measured } : {}),
    ...deferred,
  };
}

/**
 * Returns the uploads that end after the deadline, with the bytes of each sent by then; or, when
 * the time of an upload the deadline may cut is unknown, why they cannot be judged.
 */
function deferredBy(flow: Flow, deadline: number): Pick<TargetForecast, 'deferred' | 'deferredUnknown'> {
  const knownUntil = flow.unknown?.from ?? Number.POSITIVE_INFINITY;
  const unjudged = flow.load.uploads.some((_, index) => !((flow.ends[index] ?? Number.POSITIVE_INFINITY) <= knownUntil) && deadline > knownUntil);
  if (unjudged) return { deferredUnknown: `which backups the deadline would defer on ${flow.load.target} cannot be judged: the time of its uploads is unknown` };
  const sentByDeadline = flow.sentByDeadline ?? sentPerUpload(flow);
  const deferred: ForecastDeferred[] = [];
  flow.load.uploads.forEach((upload, index) => {
    if ((flow.ends[index] ?? Number.POSITIVE_INFINITY) > deadline) {
      const sent = Math.round(Math.min(upload.bytes, sentByDeadline[index] ?? 0));
      deferred.push({ vm: upload.vm, stamp: upload.stamp, bytes: upload.bytes, sentByDeadline: sent });
    }
  });
  return { deferred };
}

/** Returns why a target's time is unknown: no limit in force (at `from`, or at all) and no measured speed. */
function unknownReason(input: ForecastInput, load: TargetLoad, from?: Date): string {
  const anyLimit = input.runLimitAt !== undefined || load.limitAt !== undefined;
  const limit = !anyLimit ? 'no bwlimit' : from === undefined ? 'no bwlimit in force now' : `no bwlimit in force from ${format(from, 'EEE HH:mm')}`;
  const speed = input.measuredUnreadable ?? `no run has measured the speed to ${load.target} yet (the first run that uploads there measures it)`;
  return `time unknown: ${limit}, and ${speed}`;
}
