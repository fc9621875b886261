import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMaxAge, checksAge, formatAge, maxAgeFor, type AgeSettings, type UnfinishedUploads, type Unlisted } from '../../src/core/age.js';
import type { LocalBackup, Plan, TargetInventory } from '../../src/core/model.js';
import { DEFAULT_FILES, inventoryOf, localBackup, partialBackup, planOf, remoteBackup, targetPlan, vmPlan } from '../support/plan.js';

/** A plan that covers `vms` on each target (the actions do not matter to the age check). */
function covering(targets: Record<string, string[]>): Plan {
  return planOf(Object.entries(targets).map(([target, vms]) => targetPlan(target, { vms: vms.map((vm) => vmPlan(vm)) })));
}

function settings(overrides: Partial<AgeSettings> = {}): AgeSettings {
  return { maxAge: '36h', targetMaxAge: {}, vms: { '*': { targets: ['nas', 'offsite'] } }, ...overrides };
}

/** The clock: Monday 2026-11-30, 06:00 local time. */
const NOW = new Date(2026, 10, 30, 6, 0, 0);

/** What the check finds too old when the deadline deferred nothing. */
function findTooOld(plan: Plan, inventories: readonly (TargetInventory | Unlisted)[], local: LocalBackup[], ageSettings: AgeSettings, now: Date) {
  return checkMaxAge(plan, inventories, local, { deferred: [], failed: [] }, ageSettings, now).tooOld;
}

/** `VM@target` of what is too old, in order. */
function names(plan: Plan, inventories: TargetInventory[], ageSettings = settings(), local: LocalBackup[] = []): string[] {
  return findTooOld(plan, inventories, local, ageSettings, NOW).map((tooOld) => `${tooOld.vm}@${tooOld.target}`);
}

describe('checkMaxAge (maxAge) when the deadline deferred nothing', () => {
  it('the newest complete backup decides: 35h old passes a 36h limit, 37h old fails it', () => {
    const plan = covering({ nas: ['Fresh', 'Stale'] });
    const nas = inventoryOf('nas', [
      remoteBackup('Fresh', '2026-11-20-010000'),
      remoteBackup('Fresh', '2026-11-28-190000'), // 35 h before NOW
      remoteBackup('Stale', '2026-11-28-170000'), // 37 h before NOW
    ]);
    const tooOld = findTooOld(plan, [nas], [], settings(), NOW);
    assert.deepEqual(tooOld, [
      {
        target: 'nas',
        vm: 'Stale',
        newest: '2026-11-28-170000',
        ageMs: 37 * 3_600_000,
        maxAge: '36h',
        message:
          'Stale on nas: the newest complete backup, 2026-11-28-170000, is 1d 13h old, older than maxAge 36h: is the backup job still backing up Stale, and do its uploads to nas succeed? (a VM no longer backed up: set vms.Stale.maxAge to false, or remove its folder on nas)',
      },
    ]);
  });

  it('a .partial or an incomplete copy is not a backup: the older complete one counts', () => {
    const plan = covering({ nas: ['Bart'] });
    const local = [localBackup('Bart', '2026-11-30-020000')];
    const halfSent = inventoryOf('nas', [remoteBackup('Bart', '2026-11-20-020000'), partialBackup('Bart', '2026-11-30-020000', DEFAULT_FILES)]);
    assert.deepEqual(names(plan, [halfSent], settings(), local), ['Bart@nas']);
    const wrongSize = inventoryOf('nas', [remoteBackup('Bart', '2026-11-20-020000'), remoteBackup('Bart', '2026-11-30-020000', { ...DEFAULT_FILES, 'disk.vmdk': 10 })]);
    assert.deepEqual(names(plan, [wrongSize], settings(), local), ['Bart@nas']);
    const complete = inventoryOf('nas', [remoteBackup('Bart', '2026-11-20-020000'), remoteBackup('Bart', '2026-11-30-020000')]);
    assert.deepEqual(names(plan, [complete], settings(), local), []);
  });

  it('a VM with no complete backup on a target at all is reported', () => {
    const tooOld = findTooOld(covering({ nas: ['Bart'] }), [inventoryOf('nas', [])], [], settings(), NOW);
    assert.equal(tooOld.length, 1);
    assert.equal(tooOld[0]?.newest, undefined);
    assert.match(tooOld[0]?.message ?? '', /^Bart has no complete backup on nas \(maxAge 36h\)/);
  });

  it("each target is judged on its own backups, and only for the VMs the plan covers there", () => {
    const plan = covering({ nas: ['Bart'], offsite: ['Bart'] });
    const nas = inventoryOf('nas', [remoteBackup('Bart', '2026-11-30-020000'), remoteBackup('Lisa', '2012-01-01-000000')]);
    const offsite = inventoryOf('offsite', [remoteBackup('Bart', '2026-11-01-020000')]);
    assert.deepEqual(names(plan, [nas, offsite]), ['Bart@offsite']);
  });

  it("the VM's limit wins over the target's, which wins over the config's; false turns the check off", () => {
    const plan = covering({ nas: ['Bart', 'Homer', 'Old'], offsite: ['Bart', 'Homer', 'Old'] });
    const tenDaysOld = '2026-11-20-060000';
    const everything = (target: string) => inventoryOf(target, ['Bart', 'Homer', 'Old'].map((vm) => remoteBackup(vm, tenDaysOld)));
    const ageSettings = settings({
      maxAge: '8d',
      targetMaxAge: { offsite: '11d' },
      vms: { Homer: { targets: ['nas', 'offsite'], maxAge: '1m' }, Old: { targets: ['nas', 'offsite'], maxAge: false }, '*': { targets: ['nas', 'offsite'] } },
    });
    assert.equal(maxAgeFor(ageSettings, 'Bart', 'nas'), '8d');
    assert.equal(maxAgeFor(ageSettings, 'Bart', 'offsite'), '11d');
    assert.equal(maxAgeFor(ageSettings, 'Homer', 'nas'), '1m');
    assert.equal(maxAgeFor(ageSettings, 'Old', 'nas'), false);
    assert.deepEqual(names(plan, [everything('nas'), everything('offsite')], ageSettings), ['Bart@nas']);
  });

  it('calendar units: 1m before 2026-03-31 is 2026-03-03 (as keep.within reads it)', () => {
    const now = new Date(2026, 2, 31, 12, 0, 0);
    const plan = covering({ nas: ['Before', 'After'] });
    const nas = inventoryOf('nas', [remoteBackup('Before', '2026-03-03-115959'), remoteBackup('After', '2026-03-03-120000')]);
    const tooOld = findTooOld(plan, [nas], [], settings({ maxAge: '1m' }), now);
    assert.deepEqual(tooOld.map((entry) => entry.vm), ['Before']);
  });

  it('a stamp in the future is not too old; a target missing from the listing is not judged', () => {
    const plan = covering({ nas: ['Bart'], offsite: ['Bart'] });
    assert.deepEqual(names(plan, [inventoryOf('nas', [remoteBackup('Bart', '2099-01-01-000000')])]), []);
  });

  it('a target that could not be listed after the run fails the check for its VMs, saying why', () => {
    const plan = covering({ nas: ['Bart', 'Old'] });
    const ageSettings = settings({ vms: { Old: { targets: ['nas'], maxAge: false }, '*': { targets: ['nas'] } } });
    const tooOld = findTooOld(plan, [{ target: 'nas', error: 'connection reset' }], [], ageSettings, NOW);
    assert.deepEqual(
      tooOld.map((entry) => entry.message),
      ['Bart on nas: not checked against maxAge 36h: listing nas after the run failed (connection reset)'],
    );
  });

  it('a VM whose folder could not be listed after the run is not checked, saying which folder and why, not "no complete backup"', () => {
    const plan = covering({ nas: ['Bart', 'Lisa'] });
    const nas = {
      ...inventoryOf('nas', [remoteBackup('Lisa', '2026-11-30-020000')]),
      unreadable: [{ vm: 'Bart', dir: '/nas/Bart', reason: 'the server replied 550 Permission denied.' }],
    };
    assert.deepEqual(
      findTooOld(plan, [nas], [], settings(), NOW).map((entry) => entry.message),
      ['Bart on nas: not checked against maxAge 36h: folder /nas/Bart could not be listed after the run (the server replied 550 Permission denied.); check the permissions of /nas/Bart on nas'],
    );
  });
});

describe('checkMaxAge when the deadline deferred backups this run', () => {
  const plan = covering({ nas: ['Bart'], offsite: ['Bart'] });
  /** 4 h before NOW: within 36h. */
  const FRESH = '2026-11-30-020000';
  /** 2 days before NOW: older than 36h. */
  const STALE = '2026-11-28-060000';
  const deferredOn = (target: string, stamp: string) => ({ target, vm: 'Bart', stamp });
  /** The check of Bart on a nas that holds none of his backups, `stamp` deferred there. */
  const firstDeferred = (stamp: string) => checkMaxAge(plan, [inventoryOf('nas', [])], [], { deferred: [deferredOn('nas', stamp)], failed: [] }, settings(), NOW);
  const bartOnNas = { target: 'nas', vm: 'Bart', maxAge: '36h' };

  it("a VM's first backup deferred within maxAge is not too old: it awaits that backup, and the words say which and that it resumes", () => {
    const message = `Bart: no complete backup on nas, but its backup ${FRESH} (4h old, within maxAge 36h) was deferred by the window: not a failure, it resumes next run`;
    assert.deepEqual(firstDeferred(FRESH), { tooOld: [], awaitingDeferred: [{ ...bartOnNas, deferred: FRESH, message }] });
  });

  it('an older complete backup past maxAge with a fresh one deferred: awaiting, naming both', () => {
    const nas = inventoryOf('nas', [remoteBackup('Bart', '2026-11-20-020000')]);
    const check = checkMaxAge(plan, [nas], [], { deferred: [deferredOn('nas', FRESH)], failed: [] }, settings(), NOW);
    assert.deepEqual(check.tooOld, []);
    assert.deepEqual(check.awaitingDeferred.map((awaiting) => [awaiting.newest, awaiting.deferred]), [['2026-11-20-020000', FRESH]]);
    assert.match(check.awaitingDeferred[0]!.message, /^Bart: the newest complete backup on nas, 2026-11-20-020000, is 10d 4h old, but its backup 2026-11-30-020000 /);
  });

  it('the deferred backup itself older than maxAge: too old, and the message blames the window, not the backup job', () => {
    const message =
      `Bart: no complete backup on nas, and its backup ${STALE}, not complete there, is 2d 0h old, older than maxAge 36h: the window keeps closing before its uploads end ` +
      `(this run it deferred ${STALE}, which resumes next run); give the uploads more time (a later window.end or --stop-at, a longer --max-duration), a higher bwlimit if one is set, or a higher vms.Bart.priority`;
    assert.deepEqual(firstDeferred(STALE), { tooOld: [{ ...bartOnNas, deferred: STALE, waiting: STALE, message }], awaitingDeferred: [] });
  });

  it('of several deferred backups the newest decides', () => {
    const deferred = [deferredOn('nas', STALE), deferredOn('nas', FRESH)];
    assert.deepEqual(checkMaxAge(plan, [inventoryOf('nas', [])], [], { deferred, failed: [] }, settings(), NOW).tooOld, []);
  });

  it('a deferred backup no newer than the newest complete one excuses nothing: the message is the usual one', () => {
    const nas = inventoryOf('nas', [remoteBackup('Bart', STALE)]);
    const check = checkMaxAge(plan, [nas], [], { deferred: [deferredOn('nas', '2026-11-27-060000')], failed: [] }, settings(), NOW);
    assert.deepEqual(check.awaitingDeferred, []);
    assert.deepEqual(check.tooOld.map((tooOld) => tooOld.deferred), [undefined]);
    assert.match(check.tooOld[0]!.message, /is the backup job still backing up Bart/);
  });

  it('a deferral on another target does not excuse this one', () => {
    const check = checkMaxAge(plan, [inventoryOf('nas', [remoteBackup('Bart', FRESH)]), inventoryOf('offsite', [])], [], { deferred: [deferredOn('nas', FRESH)], failed: [] }, settings(), NOW);
    assert.deepEqual(check.awaitingDeferred, []);
    assert.deepEqual(check.tooOld.map((tooOld) => `${tooOld.vm}@${tooOld.target}`), ['Bart@offsite']);
    assert.match(check.tooOld[0]!.message, /^Bart has no complete backup on offsite \(maxAge 36h\): is the backup job still backing up Bart/);
  });

  it("another VM's deferral does not excuse this VM, and a VM within maxAge is not judged at all", () => {
    const twoVms = covering({ nas: ['Bart', 'Lisa'] });
    const nas = inventoryOf('nas', [remoteBackup('Bart', FRESH)]);
    const check = checkMaxAge(twoVms, [nas], [], { deferred: [deferredOn('nas', '2026-11-30-030000'), { target: 'nas', vm: 'Homer', stamp: FRESH }], failed: [] }, settings(), NOW);
    assert.deepEqual(check.awaitingDeferred, []);
    assert.deepEqual(check.tooOld.map((tooOld) => `${tooOld.vm}@${tooOld.target}`), ['Lisa@nas']);
  });

  it('a target that could not be listed after the run fails the check, deferral or not', () => {
    const check = checkMaxAge(covering({ nas: ['Bart'] }), [{ target: 'nas', error: 'connection reset' }], [], { deferred: [deferredOn('nas', FRESH)], failed: [] }, settings(), NOW);
    assert.deepEqual(check.awaitingDeferred, []);
    assert.equal(check.tooOld.length, 1);
  });
});

describe('checkMaxAge when the deadline defers every night: the excuse lasts maxAge', () => {
  const plan = covering({ nas: ['Bart'] });
  const eightDays = settings({ maxAge: '8d' });
  const SIXTY_DAYS_OLD = '2026-10-01-060000';
  const TWENTY_DAYS_OLD = '2026-11-10-060000';
  const TONIGHT = '2026-11-30-020000';
  const deferredTonight = { deferred: [{ target: 'nas', vm: 'Bart', stamp: TONIGHT }], failed: [] };
  const window =
    `Bart: the newest complete backup on nas, ${SIXTY_DAYS_OLD}, is 60d 0h old, and its backup ${TWENTY_DAYS_OLD}, not complete there, is 20d 0h old, older than maxAge 8d: ` +
    `the window keeps closing before its uploads end (this run it deferred ${TONIGHT}, which resumes next run); give the uploads more time (a later window.end or --stop-at, ` +
    'a longer --max-duration), a higher bwlimit if one is set, or a higher vms.Bart.priority';
  const tooOldBart = { target: 'nas', vm: 'Bart', newest: SIXTY_DAYS_OLD, ageMs: 60 * 24 * 3_600_000, deferred: TONIGHT, waiting: TWENTY_DAYS_OLD, maxAge: '8d', message: window };

  it('a local backup 20 days old still waiting behind tonight\'s deferred one: too old, the window is the cause', () => {
    const nas = inventoryOf('nas', [remoteBackup('Bart', SIXTY_DAYS_OLD)]);
    const local = [localBackup('Bart', SIXTY_DAYS_OLD), localBackup('Bart', TWENTY_DAYS_OLD), localBackup('Bart', TONIGHT)];
    assert.deepEqual(checkMaxAge(plan, [nas], local, deferredTonight, eightDays, NOW), { tooOld: [tooOldBart], awaitingDeferred: [] });
  });

  it('the evidence only as a .partial on the target (the local copy is gone): too old all the same', () => {
    const nas = inventoryOf('nas', [remoteBackup('Bart', SIXTY_DAYS_OLD), partialBackup('Bart', TWENTY_DAYS_OLD, DEFAULT_FILES)]);
    assert.deepEqual(checkMaxAge(plan, [nas], [localBackup('Bart', TONIGHT)], deferredTonight, eightDays, NOW), { tooOld: [tooOldBart], awaitingDeferred: [] });
  });

  it('every pending backup within maxAge: it awaits tonight\'s deferred one', () => {
    const nas = inventoryOf('nas', [remoteBackup('Bart', SIXTY_DAYS_OLD), partialBackup('Bart', '2026-11-27-020000', DEFAULT_FILES)]);
    const local = [localBackup('Bart', SIXTY_DAYS_OLD), localBackup('Bart', '2026-11-25-020000'), localBackup('Bart', TONIGHT)];
    const check = checkMaxAge(plan, [nas], local, deferredTonight, eightDays, NOW);
    assert.deepEqual([check.tooOld, check.awaitingDeferred.map((awaiting) => awaiting.deferred)], [[], [TONIGHT]]);
  });

  it('a first backup deferred with nothing older pending: it awaits; pending backups of another VM or on another target do not count', () => {
    const twoTargets = covering({ nas: ['Bart'], offsite: ['Lisa'] });
    const local = [localBackup('Bart', TONIGHT), localBackup('Lisa', TWENTY_DAYS_OLD)];
    const offsite = inventoryOf('offsite', [remoteBackup('Lisa', TONIGHT), partialBackup('Bart', TWENTY_DAYS_OLD, DEFAULT_FILES)]);
    const check = checkMaxAge(twoTargets, [inventoryOf('nas', [partialBackup('Lisa', TWENTY_DAYS_OLD, DEFAULT_FILES)]), offsite], local, deferredTonight, eightDays, NOW);
    assert.deepEqual([check.tooOld, check.awaitingDeferred.map((awaiting) => `${awaiting.vm}@${awaiting.target} ${awaiting.deferred}`)], [[], [`Bart@nas ${TONIGHT}`]]);
  });
});

describe('checkMaxAge when an upload failed this run', () => {
  const plan = covering({ nas: ['Bart'], offsite: ['Bart'] });
  /** 4 h before NOW: within 36h. */
  const FRESH = '2026-11-30-020000';
  const OLD = '2026-11-20-020000';
  const uploadOf = (target: string, stamp: string, vm = 'Bart') => ({ target, vm, stamp });
  /** The check of Bart on nas (holding `held`) and on an offsite that holds his FRESH backup. */
  const checkBart = (held: string[], unfinished: UnfinishedUploads) =>
    checkMaxAge(
      plan,
      [inventoryOf('nas', held.map((stamp) => remoteBackup('Bart', stamp))), inventoryOf('offsite', [remoteBackup('Bart', FRESH)])],
      [],
      unfinished,
      settings(),
      NOW,
    );

  it("a VM's first backup whose upload failed: too old, and the message names that upload, not the backup job", () => {
    const message = `Bart has no complete backup on nas (maxAge 36h): its upload of ${FRESH} failed this run (see the error above)`;
    assert.deepEqual(checkBart([], { deferred: [], failed: [uploadOf('nas', FRESH)] }), {
      tooOld: [{ target: 'nas', vm: 'Bart', failed: FRESH, maxAge: '36h', message }],
      awaitingDeferred: [],
    });
  });

  it('an old complete backup and a newer one whose upload failed: too old, naming both', () => {
    const { tooOld } = checkBart([OLD], { deferred: [], failed: [uploadOf('nas', FRESH)] });
    assert.deepEqual(
      tooOld.map((found) => found.message),
      [`Bart on nas: the newest complete backup, ${OLD}, is 10d 4h old, older than maxAge 36h, and its upload of ${FRESH} failed this run (see the error above)`],
    );
    assert.deepEqual(tooOld.map((found) => [found.newest, found.failed]), [[OLD, FRESH]]);
  });

  for (const [what, failed] of [
    ['on another target', uploadOf('offsite', FRESH)],
    ['of another VM', uploadOf('nas', FRESH, 'Homer')],
    ['of a backup no newer than the newest complete one', uploadOf('nas', OLD)],
  ] as const) {
    it(`a failed upload ${what} explains nothing: the message is the usual one`, () => {
      const { tooOld } = checkBart([OLD], { deferred: [], failed: [failed] });
      assert.deepEqual(tooOld.map((found) => `${found.vm}@${found.target} ${String(found.failed)}`), ['Bart@nas undefined']);
      assert.match(tooOld[0]!.message, /: is the backup job still backing up Bart, and do its uploads to nas succeed\?/);
    });
  }

  it('a deferral still wins: a deferred backup within maxAge awaits, one older than it blames the window', () => {
    const STALE = '2026-11-28-060000';
    const awaiting = checkBart([], { deferred: [uploadOf('nas', FRESH)], failed: [uploadOf('nas', STALE)] });
    assert.deepEqual([awaiting.tooOld, awaiting.awaitingDeferred.map((found) => found.deferred)], [[], [FRESH]]);
    const { tooOld } = checkBart([], { deferred: [uploadOf('nas', STALE)], failed: [uploadOf('nas', FRESH)] });
    assert.deepEqual(tooOld.map((found) => [found.deferred, found.failed]), [[STALE, undefined]]);
    assert.match(tooOld[0]!.message, /the window keeps closing before its uploads end/);
  });
});

describe('checksAge: whether the listing after the run has a maxAge to serve', () => {
  const plan = covering({ nas: ['Bart', 'Old'], offsite: ['Bart'] });
  const unreachable = [{ target: 'nas', error: 'connection reset' }, { target: 'offsite', error: 'connection reset' }];

  it('every VM of the plan at maxAge false on every target: nothing to check, and checkMaxAge finds nothing whatever it is given', () => {
    const never = settings({ maxAge: false });
    assert.equal(checksAge(plan, never), false);
    assert.deepEqual(findTooOld(plan, unreachable, [], never, NOW), []);
    assert.deepEqual(findTooOld(plan, [inventoryOf('nas', []), inventoryOf('offsite', [])], [], never, NOW), []);
  });

  const checked: [string, Partial<AgeSettings>][] = [
    ['the config\'s maxAge', {}],
    ['one target\'s maxAge', { maxAge: false, targetMaxAge: { offsite: '2d' } }],
    ['one VM\'s maxAge', { maxAge: false, vms: { Old: { targets: ['nas'], maxAge: '2d' }, '*': { targets: ['nas', 'offsite'] } } }],
  ];
  for (const [what, overrides] of checked) {
    it(`${what} is checked: checkMaxAge has something to judge`, () => {
      assert.equal(checksAge(plan, settings(overrides)), true);
      assert.notDeepEqual(findTooOld(plan, unreachable, [], settings(overrides), NOW), []);
    });
  }
});

describe('formatAge', () => {
  const table: [number, string][] = [
    [0, '0h'],
    [59 * 60_000, '0h'],
    [17 * 3_600_000, '17h'],
    [24 * 3_600_000, '1d 0h'],
    [(9 * 24 + 3) * 3_600_000 + 59 * 60_000, '9d 3h'],
  ];
  for (const [ms, text] of table) it(`${ms} ms is ${text}`, () => assert.equal(formatAge(ms), text));
});
