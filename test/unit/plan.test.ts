import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  DeleteAction,
  KeepPolicy,
  LocalBackup,
  LocalPurge,
  Plan,
  PlanSettings,
  RemoteBackup,
  TargetInventory,
  UploadAction,
  VmPlan,
  VmRoute,
} from '../../src/core/model.js';
import { confirmDeletes, isCompleteOn, planRun } from '../../src/core/plan.js';
import { changeSinceScan, decidePurge, inventoriesAfterPlan } from '../../src/core/purge.js';
import { isStamp, isValidVmName } from '../../src/core/stamp.js';
import {
  DEFAULT_FILES,
  inventoryOf as inventory,
  localBackup as local,
  partialBackup as partial,
  remoteBackup as remote,
} from '../support/plan.js';

function settings(overrides: Partial<PlanSettings> = {}): PlanSettings {
  return { keep: 3, targetKeep: {}, vms: { '*': { targets: ['nas'] } }, deleteFirst: false, ...overrides };
}

/** The stamps of each kind of action, newest first: the plan as the original tool's tests read it. */
function summary(vmPlan: VmPlan | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const action of vmPlan?.actions ?? []) {
    const kind = action.type === 'delete' && action.partial ? 'delete .partial' : action.type;
    (out[kind] ??= []).push(action.stamp);
  }
  return out;
}

function vmPlanOf(plan: Plan, target: string, vm: string): VmPlan | undefined {
  return plan.targets.find((t) => t.target === target)?.vms.find((v) => v.vm === vm);
}

function uploadOf(vmPlan: VmPlan | undefined, type: UploadAction['type'], stamp: string): UploadAction {
  const found = vmPlan?.actions.find((a): a is UploadAction => a.type === type && a.stamp === stamp);
  assert.ok(found, `no ${type} of ${stamp}`);
  return found;
}

const S = (day: number): string => `2012-08-${String(day).padStart(2, '0')}-020000`;

describe('planRun: merging local and remote backups', () => {
  // [name, local stamps, complete remote stamps, keep, expected actions by kind]
  const table: [string, number[], number[], KeepPolicy, Record<string, string[]>][] = [
    // The original's test: 9 backups in all, keep the 5 newest.
    ['keep 5 out of 9: upload 3 new, keep 2, delete 4', [17, 18, 19], [11, 12, 13, 14, 15, 16], 5,
      { upload: [S(19), S(18), S(17)], keep: [S(16), S(15)], delete: [S(14), S(13), S(12), S(11)] }],
    ['first run: upload the 3 newest, skip the rest', [11, 12, 13, 14, 15], [], 3,
      { upload: [S(15), S(14), S(13)], skip: [S(12), S(11)] }],
    ['nothing new: keep what is there', [13, 14, 15], [13, 14, 15], 3, { keep: [S(15), S(14), S(13)] }],
    ['remote-only VM keeps its 3 newest', [], [11, 12, 13, 14, 15], 3,
      { keep: [S(15), S(14), S(13)], delete: [S(12), S(11)] }],
    ['a local backup older than every remote one is skipped', [10], [11, 12, 13], 3,
      { keep: [S(13), S(12), S(11)], skip: [S(10)] }],
    ['an old backup present on both sides is deleted remotely', [11, 15], [11, 12, 13, 14], 3,
      { upload: [S(15)], keep: [S(14), S(13)], delete: [S(12), S(11)] }],
  ];
  for (const [name, localDays, remoteDays, keep, expected] of table) {
    it(name, () => {
      const plan = planRun({
        local: localDays.map((d) => local('Bart', S(d))),
        inventories: [inventory('nas', remoteDays.map((d) => remote('Bart', S(d))))],
        settings: settings({ keep }),
      });
      assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), expected);
      assert.deepEqual(plan.problems, []);
    });
  }

  it('orders uploads, keeps, skips, deletes and gives each its retention reason', () => {
    const plan = planRun({
      local: [local('Bart', S(19)), local('Bart', S(10))],
      inventories: [inventory('nas', [S(14), S(13), S(12), S(11)].map((s) => remote('Bart', s)))],
      settings: settings(),
    });
    const vmPlan = vmPlanOf(plan, 'nas', 'Bart');
    assert.deepEqual(
      vmPlan?.actions.map((a) => [a.type, a.stamp, a.reason]),
      [
        ['upload', S(19), 'new backup (kept: last 1/3)'],
        ['keep', S(14), 'last 2/3'],
        ['keep', S(13), 'last 3/3'],
        ['skip', S(10), 'older than the 3 newest: would be deleted at once'],
        ['delete', S(12), 'older than the 3 newest'],
        ['delete', S(11), 'older than the 3 newest'],
      ],
    );
    const upload = uploadOf(vmPlan, 'upload', S(19));
    assert.deepEqual(upload.files, [
      { path: 'disk.vmdk', size: 1000, offset: 0 },
      { path: 'sample.txt', size: 20, offset: 0 },
    ]);
    assert.equal(upload.bytes, 1020);
    assert.equal(upload.localDir, `/backups/Bart/${S(19)}`);
    assert.equal(upload.replacesIncomplete, false);
  });

  it('gives GFS reasons', () => {
    const plan = planRun({
      local: [local('Bart', '2024-01-02-020000')],
      inventories: [inventory('nas', ['2024-01-01-020000', '2023-12-31-020000', '2023-12-30-020000'].map((s) => remote('Bart', s)))],
      settings: settings({ keep: { last: 1, daily: 2, monthly: 2 } }),
    });
    assert.deepEqual(
      vmPlanOf(plan, 'nas', 'Bart')?.actions.map((a) => [a.type, a.stamp, a.reason]),
      [
        ['upload', '2024-01-02-020000', 'new backup (kept: last 1/1, daily 1/2, monthly 1/2)'],
        ['keep', '2024-01-01-020000', 'daily 2/2'],
        ['keep', '2023-12-31-020000', 'monthly 2/2'],
        ['delete', '2023-12-30-020000', 'not kept by any rule (last 1, daily 2, monthly 2)'],
      ],
    );
  });
});

describe('planRun: incomplete and unfinished uploads', () => {
  it('resumes a .partial: offset = remote size when 0 < remote <= local, else 0', () => {
    const localFiles = { a: 100, b: 50, c: 30, d: 10, e: 0 };
    const plan = planRun({
      local: [local('Bart', S(20), localFiles)],
      inventories: [inventory('nas', [partial('Bart', S(20), { a: 100, b: 20, c: 40, e: 0, extra: 5 })])],
      settings: settings(),
    });
    const upload = uploadOf(vmPlanOf(plan, 'nas', 'Bart'), 'resume', S(20));
    assert.deepEqual(upload.files, [
      { path: 'a', size: 100, offset: 100 }, // all there: only verify
      { path: 'b', size: 50, offset: 20 }, // resume at 20
      { path: 'c', size: 30, offset: 0 }, // remote larger than local: not a prefix, send again
      { path: 'd', size: 10, offset: 0 }, // not there yet
      { path: 'e', size: 0, offset: 0 },
    ]);
    assert.equal(upload.bytes, 0 + 30 + 30 + 10 + 0);
    assert.equal(upload.replacesIncomplete, false);
    assert.equal(upload.reason, 'resume: 2 of 5 files already sent (kept: last 1/3)');
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { resume: [S(20)] });
  });

  it('re-sends a final-named copy that is missing a file, replacing it', () => {
    const plan = planRun({
      local: [local('Bart', S(20))],
      inventories: [inventory('nas', [remote('Bart', S(20), { 'disk.vmdk': 1000 })])],
      settings: settings(),
    });
    const upload = uploadOf(vmPlanOf(plan, 'nas', 'Bart'), 'upload', S(20));
    assert.equal(upload.replacesIncomplete, true);
    assert.equal(upload.reason, 're-send: remote copy is missing sample.txt (kept: last 1/3)');
    assert.equal(upload.bytes, 1020);
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { upload: [S(20)] });
  });

  it('re-sends a copy with a wrong size, and resumes when a .partial exists as well', () => {
    const plan = planRun({
      local: [local('Bart', S(20)), local('Bart', S(21))],
      inventories: [
        inventory('nas', [
          remote('Bart', S(20), { 'disk.vmdk': 999, 'sample.txt': 20 }),
          remote('Bart', S(21), { 'disk.vmdk': 1, 'sample.txt': 2 }),
          partial('Bart', S(21), { 'disk.vmdk': 1000 }),
        ]),
      ],
      settings: settings(),
    });
    const vmPlan = vmPlanOf(plan, 'nas', 'Bart');
    const resend = uploadOf(vmPlan, 'upload', S(20));
    assert.equal(resend.reason, 're-send: remote copy has disk.vmdk at 999 bytes, not 1000 (kept: last 2/3)');
    const resumed = uploadOf(vmPlan, 'resume', S(21));
    assert.equal(resumed.replacesIncomplete, true);
    assert.equal(resumed.bytes, 20);
    assert.match(resumed.reason, /^resume: 1 of 2 files already sent; replaces the incomplete remote copy/);
  });

  it('a complete copy may hold extra files', () => {
    const plan = planRun({
      local: [local('Bart', S(20))],
      inventories: [inventory('nas', [remote('Bart', S(20), { ...DEFAULT_FILES, 'notes.txt': 3 })])],
      settings: settings(),
    });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { keep: [S(20)] });
  });

  it('deletes an incomplete copy that is not kept, and a stale .partial', () => {
    const plan = planRun({
      local: [local('Bart', S(10)), local('Bart', S(11))],
      inventories: [
        inventory('nas', [
          remote('Bart', S(10), { 'disk.vmdk': 5 }),
          partial('Bart', S(11), { 'disk.vmdk': 5 }),
          partial('Bart', S(1), {}),
          ...[S(12), S(13), S(14)].map((s) => remote('Bart', s)),
        ]),
      ],
      settings: settings(),
    });
    const vmPlan = vmPlanOf(plan, 'nas', 'Bart');
    assert.deepEqual(summary(vmPlan), {
      keep: [S(14), S(13), S(12)],
      skip: [S(11)],
      delete: [S(10)],
      'delete .partial': [S(11), S(1)],
    });
    assert.equal(
      vmPlan?.actions.find((a): a is DeleteAction => a.type === 'delete' && !a.partial)?.reason,
      'incomplete and not kept (older than the 3 newest)',
    );
    const stale = vmPlan?.actions.filter((a): a is DeleteAction => a.type === 'delete' && a.partial);
    assert.deepEqual(stale?.map((a) => a.reason), ['stale unfinished upload, not wanted', 'stale unfinished upload, not wanted']);
  });

  it('deletes a stamp\'s .partial before its backup, which is renamed to that name to be deleted', () => {
    const plan = planRun({
      local: [],
      inventories: [inventory('nas', [...[S(12), S(13), S(14)].map((s) => remote('Bart', s)), remote('Bart', S(1)), partial('Bart', S(1), {})])],
      settings: settings(),
    });
    const deletes = vmPlanOf(plan, 'nas', 'Bart')?.actions.filter((a): a is DeleteAction => a.type === 'delete');
    assert.deepEqual(deletes?.map((a) => [a.stamp, a.partial]), [[S(1), true], [S(1), false]]);
  });

  it('deletes the .partial of a backup that is already complete', () => {
    const plan = planRun({
      local: [local('Bart', S(20))],
      inventories: [inventory('nas', [remote('Bart', S(20)), partial('Bart', S(20), { 'disk.vmdk': 3 })])],
      settings: settings(),
    });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { keep: [S(20)], 'delete .partial': [S(20)] });
  });
});

describe('planRun: routes and retention settings', () => {
  const twoTargets = (): TargetInventory[] => [
    inventory('nas', [S(11), S(12), S(13), S(14)].map((s) => remote('Raoul', s))),
    inventory('offsite', [S(11), S(12), S(13), S(14)].map((s) => remote('Raoul', s))),
  ];

  it('a local VM without a route is a problem and gets no actions', () => {
    const plan = planRun({
      local: [local('Raoul', S(20)), local('Bart', S(20))],
      inventories: [inventory('nas', [])],
      settings: settings({ vms: { Bart: { targets: ['nas'] } } }),
    });
    assert.deepEqual(plan.problems, [{ vm: 'Raoul', message: "no target for VM Raoul: add it to `vms` or add a '*' route" }]);
    assert.deepEqual(plan.targets[0]?.vms.map((v) => v.vm), ['Bart']);
  });

  it('a local folder that could not be read is a problem naming it; retention then keeps more, never less', () => {
    const readable = planRun({ local: [local('Bart', S(4))], inventories: [inventory('nas', [S(1), S(2), S(3)].map((s) => remote('Bart', s)))], settings: settings() });
    const plan = planRun({
      local: [],
      unreadable: [{ vm: 'Bart', dir: `/src/Bart/${S(4)}`, reason: 'EACCES: permission denied' }],
      inventories: [inventory('nas', [S(1), S(2), S(3)].map((s) => remote('Bart', s)))],
      settings: settings(),
    });
    assert.deepEqual(plan.problems, [
      {
        vm: 'Bart',
        message: `local folder /src/Bart/${S(4)} could not be read (EACCES: permission denied): none of it is sent or purged; check its permissions, or whether the backup job still writes it`,
      },
    ]);
    assert.deepEqual(summary(vmPlanOf(readable, 'nas', 'Bart')), { upload: [S(4)], keep: [S(3), S(2)], delete: [S(1)] });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { keep: [S(3), S(2), S(1)] });
  });

  it('a VM folder a target refused to list is a problem naming target, folder and words; that VM gets no action there, the others as usual', () => {
    const refused = { vm: 'Bart', dir: '/nas/Bart', reason: 'the server replied 550 Permission denied.' };
    const plan = planRun({
      local: [local('Bart', S(5)), local('Lisa', S(5))],
      inventories: [
        { ...inventory('nas', [S(1), S(2), S(3)].map((s) => remote('Lisa', s))), unreadable: [refused] },
        inventory('offsite', [S(1), S(2), S(3)].map((s) => remote('Bart', s))),
      ],
      settings: settings({ vms: { '*': { targets: ['nas', 'offsite'] } } }),
    });
    assert.deepEqual(plan.problems, [
      {
        vm: 'Bart',
        target: 'nas',
        message:
          'nas: folder /nas/Bart could not be listed (the server replied 550 Permission denied.): nothing of Bart is uploaded to or deleted on nas, ' +
          'and none of its local backups is purged; check the permissions of /nas/Bart on nas',
      },
    ]);
    assert.equal(vmPlanOf(plan, 'nas', 'Bart'), undefined);
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Lisa')), { upload: [S(5)], keep: [S(3), S(2)], delete: [S(1)] });
    assert.deepEqual(summary(vmPlanOf(plan, 'offsite', 'Bart')), { upload: [S(5)], keep: [S(3), S(2)], delete: [S(1)] });
  });

  it('a refused VM folder of a VM with no local backups and no route there is no problem of this run', () => {
    const plan = planRun({
      local: [],
      inventories: [{ ...inventory('nas', []), unreadable: [{ vm: 'Ghost', dir: '/nas/Ghost', reason: 'the server replied 550 Permission denied.' }] }],
      settings: settings({ vms: { Lisa: { targets: ['nas'] } } }),
    });
    assert.deepEqual(plan.problems, []);
  });

  it('a remote-only VM without a route, or routed elsewhere, is left untouched', () => {
    const plan = planRun({
      local: [],
      inventories: [inventory('nas', [S(1), S(2), S(3), S(4)].flatMap((s) => [remote('Ghost', s), remote('Lisa', s)]))],
      settings: settings({ vms: { Lisa: { targets: ['offsite'] } } }),
    });
    assert.deepEqual(plan.targets, [{ target: 'nas', remoteDir: '/nas', vms: [], order: [] }]);
    assert.deepEqual(plan.problems, []);
  });

  it('plans only the targets with an inventory, in inventory order, VMs by name', () => {
    const vms: Record<string, VmRoute> = { Raoul: { targets: ['nas', 'offsite'] }, '*': { targets: ['offsite'] } };
    const plan = planRun({
      local: [local('Raoul', S(20)), local('Bart', S(20)), local('Abe', S(20))],
      inventories: [inventory('offsite', []), inventory('nas', [])],
      settings: settings({ vms, deleteFirst: true }),
    });
    assert.equal(plan.deleteFirst, true);
    assert.deepEqual(plan.targets.map((t) => [t.target, t.remoteDir, t.vms.map((v) => v.vm)]), [
      ['offsite', '/offsite', ['Abe', 'Bart', 'Raoul']],
      ['nas', '/nas', ['Raoul']],
    ]);
    const withoutOffsite = planRun({ local: [local('Raoul', S(20))], inventories: [inventory('nas', [])], settings: settings({ vms }) });
    assert.deepEqual(withoutOffsite.targets.map((t) => t.target), ['nas']);
  });

  // [name, settings, expected policy on nas, on offsite]
  const policies: [string, Partial<PlanSettings>, KeepPolicy, KeepPolicy][] = [
    ['global keep', { keep: 2 }, 2, 2],
    ['target keep beats global', { keep: 2, targetKeep: { offsite: 1 } }, 2, 1],
    ['VM keep beats target keep', { keep: 2, targetKeep: { offsite: 1 }, vms: { Raoul: { targets: ['nas', 'offsite'], keep: 3 } } }, 3, 3],
    ['-n beats everything', { keep: 2, keepOverride: 4, targetKeep: { offsite: 1 }, vms: { Raoul: { targets: ['nas', 'offsite'], keep: 3 } } }, 4, 4],
  ];
  for (const [name, overrides, nasPolicy, offsitePolicy] of policies) {
    it(`retention per target and VM: ${name}`, () => {
      const plan = planRun({
        local: [local('Raoul', S(20))],
        inventories: twoTargets(),
        settings: settings({ vms: { Raoul: { targets: ['nas', 'offsite'] } }, ...overrides }),
      });
      for (const [target, policy] of [['nas', nasPolicy], ['offsite', offsitePolicy]] as const) {
        const vmPlan = vmPlanOf(plan, target, 'Raoul');
        assert.equal(vmPlan?.policy, policy);
        const n = policy as number;
        // 5 candidates (4 remote + 1 new): the n newest stay, the rest go.
        assert.equal(vmPlan?.actions.filter((a) => a.type === 'delete').length, 5 - n, target);
      }
    });
  }

  it('a VM named like an Object.prototype member still uses the * route', () => {
    const plan = planRun({ local: [local('constructor', S(20))], inventories: [inventory('nas', [])], settings: settings() });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'constructor')), { upload: [S(20)] });
  });

  it('never plans anything for an invalid VM name (invariant 4)', () => {
    const plan = planRun({
      local: [local('..', S(20)), local('Bart.', S(20))],
      inventories: [inventory('nas', [S(1), S(2), S(3), S(4)].flatMap((s) => [remote('..', s), remote('a/b', s), remote('Bart', s)]))],
      settings: settings({ keep: 1 }),
    });
    assert.deepEqual(plan.targets[0]?.vms.map((v) => v.vm), ['Bart']);
    assert.deepEqual(plan.problems.map((p) => p.vm), ['..', 'Bart.', '..', 'a/b']);
    assert.match(plan.problems[0]!.message, /left alone/);
    assert.match(plan.problems[2]!.message, /on nas are left untouched/);
  });

  it('ignores remote and local entries whose stamp is not a stamp', () => {
    const plan = planRun({
      local: [local('Bart', '2012-13-40-999999')],
      inventories: [inventory('nas', [remote('Bart', 'notes'), remote('Bart', S(1))])],
      settings: settings({ keep: 1 }),
    });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { keep: [S(1)] });
    assert.match(plan.problems[0]!.message, /"2012-13-40-999999" is not a backup stamp/);
  });

  it('pseudo-random plans only delete valid stamps of valid VMs, never a kept or uploaded stamp', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const names = ['Bart', '..', 'Lisa', 'a\\b', 'Maggie '];
    for (let round = 0; round < 100; round++) {
      const pickStamp = (): string => (random() < 0.1 ? '2012-02-30-000000' : S(1 + Math.floor(random() * 28)));
      const pickVm = (): string => names[Math.floor(random() * names.length)]!;
      const locals = Array.from({ length: Math.floor(random() * 8) }, () => local(pickVm(), pickStamp()));
      const remotes = Array.from({ length: Math.floor(random() * 12) }, () =>
        random() < 0.2 ? partial(pickVm(), pickStamp(), { 'disk.vmdk': 10 }) : remote(pickVm(), pickStamp(), random() < 0.2 ? { 'disk.vmdk': 1 } : DEFAULT_FILES),
      );
      const plan = planRun({ local: locals, inventories: [inventory('nas', remotes)], settings: settings({ keep: 1 + Math.floor(random() * 4) }) });
      for (const vmPlan of plan.targets.flatMap((t) => t.vms)) {
        assert.ok(isValidVmName(vmPlan.vm));
        const deletes = vmPlan.actions.filter((a): a is DeleteAction => a.type === 'delete');
        const finalDeletes = new Set(deletes.filter((d) => !d.partial).map((d) => d.stamp));
        for (const d of deletes) assert.ok(isStamp(d.stamp));
        for (const a of vmPlan.actions) {
          if (a.type === 'keep' || a.type === 'upload' || a.type === 'resume') assert.ok(!finalDeletes.has(a.stamp), a.stamp);
          if (a.type === 'upload' || a.type === 'resume') assert.ok(!deletes.some((d) => d.partial && d.stamp === a.stamp));
        }
        assert.ok(vmPlan.actions.some((a) => a.type === 'keep' || a.type === 'upload' || a.type === 'resume' || a.type === 'skip') || deletes.every((d) => d.partial));
      }
    }
  });
});

describe('planRun: the order uploads start in', () => {
  const order = (plan: Plan, target = 'nas') => plan.targets.find((t) => t.target === target)?.order.map((u) => `${u.vm} ${u.stamp.slice(8, 10)}`);

  it('newest of every VM first, then older ones; resumes count as uploads; keeps and deletes are not in it', () => {
    const plan = planRun({
      local: [local('Bart', S(18)), local('Bart', S(19)), local('Homer', S(19)), local('Lisa', S(17))],
      inventories: [inventory('nas', [partial('Homer', S(19), { 'disk.vmdk': 500 }), remote('Lisa', S(17)), remote('Lisa', S(11))])],
      settings: settings({ keep: 1 }),
    });
    assert.deepEqual(order(plan), ['Homer 19', 'Bart 19']);
    const twoEach = planRun({
      local: [local('Bart', S(18)), local('Bart', S(19)), local('Homer', S(19)), local('Homer', S(18))],
      inventories: [inventory('nas', [])],
      settings: settings(),
    });
    assert.deepEqual(order(twoEach), ['Bart 19', 'Homer 19', 'Bart 18', 'Homer 18']);
  });

  it('each entry carries the bytes the upload still sends (a resume only the rest)', () => {
    const plan = planRun({
      local: [local('Bart', S(19)), local('Homer', S(19))],
      inventories: [inventory('nas', [partial('Homer', S(19), { 'disk.vmdk': 1000 })])],
      settings: settings(),
    });
    assert.deepEqual(plan.targets[0]?.order, [
      { vm: 'Homer', stamp: S(19), bytes: 20 },
      { vm: 'Bart', stamp: S(19), bytes: 1020 },
    ]);
  });

  it('vms.<name>.priority moves a VM ahead; the * route\'s priority holds for the VMs without their own', () => {
    const vms = { Homer: { targets: ['nas'], priority: 5 }, Lisa: { targets: ['nas'], priority: -1 }, '*': { targets: ['nas'], priority: 1 } };
    const plan = planRun({
      local: [local('Bart', S(19)), local('Homer', S(19)), local('Lisa', S(19)), local('Abe', S(19), { 'a.vmdk': 1 })],
      inventories: [inventory('nas', [])],
      settings: settings({ vms }),
    });
    assert.deepEqual(order(plan), ['Homer 19', 'Abe 19', 'Bart 19', 'Lisa 19']);
  });

  it('each target has its own order, of what it gets', () => {
    const vms = { Bart: { targets: ['nas', 'offsite'] }, Homer: { targets: ['offsite'], priority: 2 } };
    const plan = planRun({
      local: [local('Bart', S(19)), local('Homer', S(19))],
      inventories: [inventory('nas', []), inventory('offsite', [])],
      settings: settings({ vms }),
    });
    assert.deepEqual(order(plan, 'nas'), ['Bart 19']);
    assert.deepEqual(order(plan, 'offsite'), ['Homer 19', 'Bart 19']);
  });
});

describe('confirmDeletes: the delete phase on a fresh inventory (invariant 2)', () => {
  // Remote A, B, C complete; local D is new; keep 3 -> upload D, delete A.
  const [A, B, C, D] = [S(11), S(12), S(13), S(14)];
  const locals = [local('Bart', D)];
  const before = [remote('Bart', A), remote('Bart', B), remote('Bart', C), partial('Bart', S(1), {})];
  const plan = planRun({ local: locals, inventories: [inventory('nas', before)], settings: settings() });
  const vmPlan = vmPlanOf(plan, 'nas', 'Bart')!;

  it('the plan deletes A and the stale .partial', () => {
    assert.deepEqual(summary(vmPlan), { upload: [D], keep: [C, B], delete: [A], 'delete .partial': [S(1)] });
  });

  it('holds the delete of A when the upload of D failed', () => {
    const fresh = [remote('Bart', A), remote('Bart', B), remote('Bart', C), partial('Bart', D, { 'disk.vmdk': 10 }), partial('Bart', S(1), {})];
    const confirmed = confirmDeletes(vmPlan, fresh, locals);
    assert.deepEqual(confirmed.deletes.map((d) => [d.stamp, d.partial]), [[S(1), true]]);
    assert.deepEqual(confirmed.held, [{ stamp: A, reason: 'held: kept until the newer upload is on the server (now last 3/3)' }]);
  });

  it('holds it too when D reached its final name incomplete', () => {
    const fresh = [remote('Bart', A), remote('Bart', B), remote('Bart', C), remote('Bart', D, { 'disk.vmdk': 1000 })];
    assert.deepEqual(confirmDeletes(vmPlan, fresh, locals).held.map((h) => h.stamp), [A]);
  });

  it('deletes A once D is complete on the server', () => {
    const fresh = [remote('Bart', A), remote('Bart', B), remote('Bart', C), remote('Bart', D)];
    const confirmed = confirmDeletes(vmPlan, fresh, locals);
    assert.deepEqual(confirmed.deletes.map((d) => [d.stamp, d.partial, d.reason]), [
      [A, false, 'older than the 3 newest'],
      [S(1), true, 'stale unfinished upload, not wanted'],
    ]);
    assert.deepEqual(confirmed.held, []);
  });

  it('never deletes what the plan did not: an older backup that appeared meanwhile stays', () => {
    const fresh = [remote('Bart', S(2)), remote('Bart', A), remote('Bart', B), remote('Bart', C), remote('Bart', D), remote('Lisa', S(3))];
    const confirmed = confirmDeletes(vmPlan, fresh, locals);
    assert.deepEqual(confirmed.deletes.map((d) => d.stamp), [A, S(1)]);
  });

  it('holds a delete whose backup is gone already', () => {
    const fresh = [remote('Bart', B), remote('Bart', C), remote('Bart', D)];
    assert.deepEqual(confirmDeletes(vmPlan, fresh, locals).held, [{ stamp: A, reason: 'held: no longer on the server' }]);
  });

  it('deletes a copy planned as incomplete while it is still incomplete', () => {
    const olds = [local('Bart', S(10))];
    const remotes = [remote('Bart', S(10), { 'disk.vmdk': 1 }), remote('Bart', B), remote('Bart', C), remote('Bart', D)];
    const incompletePlan = vmPlanOf(planRun({ local: olds, inventories: [inventory('nas', remotes)], settings: settings() }), 'nas', 'Bart')!;
    assert.deepEqual(summary(incompletePlan), { keep: [D, C, B], delete: [S(10)] });
    assert.deepEqual(confirmDeletes(incompletePlan, remotes, olds).deletes.map((d) => d.stamp), [S(10)]);
  });
});

describe('decidePurge (-x)', () => {
  const vms: Record<string, VmRoute> = { Raoul: { targets: ['nas', 'offsite'] }, Bart: { targets: ['nas'] } };
  const locals = [
    local('Raoul', S(1)), // complete on both
    local('Raoul', S(2)), // only on nas
    local('Raoul', S(3)), // wrong size on offsite
    local('Raoul', S(4)), // only a .partial on offsite
    local('Bart', S(1)), // complete on its one target
    local('Lisa', S(1)), // no route at all
  ];
  const nas = inventory('nas', [S(1), S(2), S(3), S(4)].flatMap((s) => [remote('Raoul', s)]).concat(remote('Bart', S(1)), remote('Lisa', S(1))));
  const offsite = inventory('offsite', [
    remote('Raoul', S(1)),
    remote('Raoul', S(3), { 'disk.vmdk': 1000, 'sample.txt': 19 }),
    partial('Raoul', S(4), DEFAULT_FILES),
    remote('Lisa', S(1)),
  ]);
  const decided = (purges: LocalPurge[]): string[] => purges.map((p) => `${p.purge ? 'purge' : 'leave'} ${p.vm}/${p.stamp}: ${p.reason}`);

  it('purges what every target of its route holds complete; leaves what a target still lacks', () => {
    assert.deepEqual(decided(decidePurge(locals, [nas, offsite], settings({ vms }))), [
      `purge Raoul/${S(1)}: complete on nas, offsite`,
      `leave Raoul/${S(2)}: not complete on offsite yet`,
      `leave Raoul/${S(3)}: not complete on offsite yet`,
      `leave Raoul/${S(4)}: not complete on offsite yet`,
      `purge Bart/${S(1)}: complete on nas`,
      'leave Lisa/2012-08-01-020000: no target for VM Lisa',
    ]);
  });

  it('a target missing from the inventories keeps every backup of its VMs local', () => {
    const purges = decidePurge(locals, [nas], settings({ vms }));
    assert.deepEqual(purges.filter((p) => p.purge).map((p) => `${p.vm}/${p.stamp}`), [`Bart/${S(1)}`]);
    assert.equal(purges[0]?.reason, 'offsite could not be listed');
  });

  it('a VM whose folder one target refused to list is never purged, even where another target holds it; the other VMs are', () => {
    const both = settings({ vms: { '*': { targets: ['nas', 'offsite'] } } });
    const held = [local('Bart', S(1)), local('Lisa', S(1))];
    const complete = [remote('Bart', S(1)), remote('Lisa', S(1))];
    const refused = { vm: 'Bart', dir: '/nas/Bart', reason: 'the server replied 550 Permission denied.' };
    const purges = decidePurge(held, [{ ...inventory('nas', [remote('Lisa', S(1))]), unreadable: [refused] }, inventory('offsite', complete)], both);
    assert.deepEqual(decided(purges), [`leave Bart/${S(1)}: nas could not be listed`, `purge Lisa/${S(1)}: complete on nas, offsite`]);

    // --simulate: what the plan leaves still does not know what nas holds of Bart.
    const before = [{ ...inventory('nas', [remote('Lisa', S(1))]), unreadable: [refused] }, inventory('offsite', complete)];
    const plan = planRun({ local: held, inventories: before, settings: both });
    assert.deepEqual(decided(decidePurge(held, inventoriesAfterPlan(plan.targets, before, held), both)), decided(purges));
  });

  it('the * route applies to VMs without their own; an empty route purges nothing', () => {
    const all = decidePurge(locals, [nas, offsite], settings({ vms: { ...vms, '*': { targets: ['nas', 'offsite'] } } }));
    assert.deepEqual(all.filter((p) => p.purge).map((p) => `${p.vm}/${p.stamp}`), [`Raoul/${S(1)}`, `Bart/${S(1)}`, `Lisa/${S(1)}`]);
    assert.deepEqual(decidePurge(locals, [nas, offsite], settings({ vms: { '*': { targets: [] } } })).filter((p) => p.purge), []);
  });

  it('a backup older than what every target keeps is purged once the newest local backup is on every target', () => {
    const bart = [1, 2, 3, 4, 5].map((day) => local('Bart', S(day)));
    const onNas = inventory('nas', [3, 4, 5].map((day) => remote('Bart', S(day))));
    assert.deepEqual(decided(decidePurge(bart, [onNas], settings())), [
      `purge Bart/${S(1)}: not kept on nas (older than the 3 newest)`,
      `purge Bart/${S(2)}: not kept on nas (older than the 3 newest)`,
      `purge Bart/${S(3)}: complete on nas`,
      `purge Bart/${S(4)}: complete on nas`,
      `purge Bart/${S(5)}: complete on nas`,
    ]);
  });

  it('held on one target, not kept by the other: purged, each target named with why', () => {
    const raoul = [4, 5].map((day) => local('Raoul', S(day)));
    const both = { vms: { '*': { targets: ['nas', 'offsite'] } }, targetKeep: { offsite: 1 } };
    const purges = decidePurge(raoul, [inventory('nas', [remote('Raoul', S(4)), remote('Raoul', S(5))]), inventory('offsite', [remote('Raoul', S(5))])], settings(both));
    assert.deepEqual(decided(purges), [
      `purge Raoul/${S(4)}: complete on nas; not kept on offsite (older than the newest)`,
      `purge Raoul/${S(5)}: complete on nas, offsite`,
    ]);
  });

  it('nothing a target does not keep is purged unless the newest local backup is on every target (a server with stamps from the future)', () => {
    const bart = [1, 2].map((day) => local('Bart', S(day)));
    const future = ['2099-01-01-000000', '2099-01-02-000000', '2099-01-03-000000'];
    const purges = decidePurge(bart, [inventory('nas', future.map((stamp) => remote('Bart', stamp)))], settings());
    assert.deepEqual(decided(purges), [
      `leave Bart/${S(1)}: kept until Bart/${S(2)}, the newest local backup, is complete on every target`,
      `leave Bart/${S(2)}: the newest local backup of Bart, yet nas would not keep it (it holds newer ones): check the stamps and the clock there`,
    ]);
  });

  it('a backup a GFS target still wants but lacks stays local', () => {
    const june = '2012-06-30-020000';
    const purges = decidePurge([local('Bart', june), local('Bart', S(5))], [inventory('nas', [remote('Bart', S(5))])], settings({ keep: { monthly: 3 } }));
    assert.deepEqual(decided(purges), [`leave Bart/${june}: not complete on nas yet`, `purge Bart/${S(5)}: complete on nas`]);
  });

  it('--simulate judges on what the plan leaves: the skipped backlog and the uploads go, an unreachable target keeps all', () => {
    const bart = [1, 2, 3, 4, 5].map((day) => local('Bart', S(day)));
    const plan = planRun({ local: bart, inventories: [inventory('nas', [])], settings: settings() });
    assert.deepEqual(summary(vmPlanOf(plan, 'nas', 'Bart')), { upload: [S(5), S(4), S(3)], skip: [S(2), S(1)] });
    const after = inventoriesAfterPlan(plan.targets, [inventory('nas', [])], bart);
    assert.deepEqual(decidePurge(bart, after, settings()).map((p) => p.purge), [true, true, true, true, true]);

    const twoTargets = settings({ vms: { '*': { targets: ['nas', 'offsite'] } } });
    const unreachable = planRun({ local: bart, inventories: [inventory('nas', [])], settings: twoTargets });
    const left = decidePurge(bart, inventoriesAfterPlan(unreachable.targets, [inventory('nas', [])], bart), twoTargets);
    assert.deepEqual([...new Set(left.map((p) => `${p.purge} ${p.reason}`))], ['false offsite could not be listed']);
  });
});

describe('changeSinceScan (-x lists a backup again right before deleting it)', () => {
  const scanned = [
    { path: 'vm.ovf', size: 5, modifiedMs: 1_000 },
    { path: 'disk/disk1.vmdk', size: 20_000, modifiedMs: 2_000 },
  ];
  it('finds no change when every file has the path, size and modification time the scan saw', () => {
    assert.equal(changeSinceScan(scanned, [...scanned].reverse()), undefined);
  });
  it('names the first file that changed, is gone or is new, in the order of the files', () => {
    const table: [string, { path: string; size: number; modifiedMs: number }[], string][] = [
      ['a file written to at its size', [scanned[0]!, { ...scanned[1]!, modifiedMs: 2_500 }], 'disk/disk1.vmdk was modified since the scan (same size)'],
      ['a file that grew', [{ ...scanned[0]!, size: 6, modifiedMs: 1_100 }, scanned[1]!], 'vm.ovf changed since the scan (5 -> 6 bytes)'],
      ['a file deleted', [scanned[1]!], 'vm.ovf is gone since the scan'],
      ['a file added', [...scanned, { path: 'disk/disk2.vmdk', size: 1, modifiedMs: 3_000 }], 'disk/disk2.vmdk is new since the scan'],
    ];
    for (const [what, now, reason] of table) assert.equal(changeSinceScan(scanned, now), reason, what);
  });
});

describe('isCompleteOn', () => {
  const table: [string, RemoteBackup, LocalBackup | undefined, boolean][] = [
    ['same files and sizes', remote('Bart', S(1)), local('Bart', S(1)), true],
    ['no local copy to compare with', remote('Bart', S(1), { x: 1 }), undefined, true],
    ['a .partial never is', partial('Bart', S(1), DEFAULT_FILES), local('Bart', S(1)), false],
    ['a file missing', remote('Bart', S(1), { 'disk.vmdk': 1000 }), local('Bart', S(1)), false],
    ['a size differs', remote('Bart', S(1), { 'disk.vmdk': 1000, 'sample.txt': 21 }), local('Bart', S(1)), false],
    ['extra remote files', remote('Bart', S(1), { ...DEFAULT_FILES, more: 1 }), local('Bart', S(1)), true],
  ];
  for (const [name, remoteBackup, localBackup, expected] of table) {
    it(name, () => assert.equal(isCompleteOn(remoteBackup, localBackup), expected));
  }
});

describe('the plan is plain data', () => {
  it('survives a JSON round trip unchanged', () => {
    const plan = planRun({
      local: [local('Bart', S(20))],
      inventories: [inventory('nas', [partial('Bart', S(20), { 'disk.vmdk': 10 }), remote('Bart', S(1))])],
      settings: settings({ keep: { daily: 1, within: '2d' } }),
    });
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
    const resumed = plan.targets[0]?.vms[0]?.actions[0] as UploadAction;
    assert.equal(resumed.type, 'resume');
  });
});
