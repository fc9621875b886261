import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderUploads, type VmUploads } from '../../src/core/order.js';

const S = (day: number): string => `2012-08-${String(day).padStart(2, '0')}-020000`;

function vm(name: string, uploads: [day: number, bytes: number][], priority = 0): VmUploads {
  return { vm: name, priority, uploads: uploads.map(([day, bytes]) => ({ stamp: S(day), bytes })) };
}

/** The order as `VM day` strings: how an administrator reads it in `-S`. */
function order(vms: VmUploads[]): string[] {
  return orderUploads(vms).map((upload) => `${upload.vm} ${Number(upload.stamp.slice(8, 10))}`);
}

describe('orderUploads: the order transfers start in', () => {
  it('sends the newest backup of every VM before any older one, VMs interleaved', () => {
    const vms = [vm('Bart', [[17, 10], [19, 10], [18, 10]]), vm('Homer', [[19, 10], [18, 10]]), vm('Lisa', [[19, 10]])];
    assert.deepEqual(order(vms), ['Bart 19', 'Homer 19', 'Lisa 19', 'Bart 18', 'Homer 18', 'Bart 17']);
  });

  it('a huge VM goes after the small ones of its round, and does not hold back their older backups for more than one backup', () => {
    const vms = [vm('Huge', [[19, 500e9], [18, 500e9]]), vm('Small', [[19, 1e6], [18, 1e6]])];
    assert.deepEqual(order(vms), ['Small 19', 'Huge 19', 'Small 18', 'Huge 18']);
  });

  it('priority moves a VM ahead within every round, higher first; negative priorities go last', () => {
    const vms = [vm('Bart', [[19, 10], [18, 10]]), vm('Homer', [[19, 999], [18, 999]], 5), vm('Lisa', [[19, 10]], -1)];
    assert.deepEqual(order(vms), ['Homer 19', 'Bart 19', 'Lisa 19', 'Homer 18', 'Bart 18']);
  });

  it('a newest backup of a low-priority VM still goes before an older backup of a high-priority VM', () => {
    const vms = [vm('Low', [[19, 10]], -10), vm('High', [[19, 10], [18, 10]], 10)];
    assert.deepEqual(order(vms), ['High 19', 'Low 19', 'High 18']);
  });

  it('ties go by VM name, so the order is the same on every run and machine', () => {
    const vms = [vm('b', [[19, 10]]), vm('B', [[19, 10]]), vm('a', [[19, 10]])];
    assert.deepEqual(order(vms), ['B 19', 'a 19', 'b 19']);
  });

  it('carries each upload\'s bytes, and nothing when there is nothing to upload', () => {
    assert.deepEqual(orderUploads([vm('Bart', [[19, 42]])]), [{ vm: 'Bart', stamp: S(19), bytes: 42 }]);
    assert.deepEqual(orderUploads([vm('Bart', [])]), []);
  });
});
