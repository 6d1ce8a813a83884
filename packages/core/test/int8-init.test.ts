// initBackend('webgpu', { unsafeApis: true }) end to end, in a fresh process: the device is created by
// the int8 factory (subgroups requested where offered, adapter info kept), and W8A8 then either uses
// subgroup matrices or says why not; the scalar int8 kernel runs either way.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';

const here = dirname(fileURLToPath(import.meta.url));

describeBackends('initBackend webgpu with unsafeApis (child process)', () => {
  it('creates the device with the offered int8 features and runs W8A8 or says why not', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'webgpu-unsafe.ts')], {
      cwd: join(here, '..'), encoding: 'utf8', timeout: 240_000, killSignal: 'SIGKILL',
    });
    expect(r.signal, `killed after 240 s\n${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.keptAdapterInfo).toBe(true);
    expect(out.scalar).toEqual({ kernel: 'scalar', layers: ['fc1', 'fc2'], finite: true });
    if (out.deviceFeatures.includes('chromium-experimental-subgroup-matrix')) {
      // a GPU with matrix units: the probe decides
      expect(out.auto.kernel === 'subgroup-matrix' || /no subgroup-matrix variant ran exactly/.test(out.auto.reason)).toBe(true);
    } else {
      expect(out.auto).toEqual({ kernel: null, reason: out.reason, layers: [] });
      expect(out.reason).toMatch(/this adapter does not offer it, also with unsafe APIs allowed/);
    }
    // tfjs's own factory asks for timestamp-query only; this one also for subgroups where offered
    if (out.adapter.includes('llvmpipe') || out.adapter.includes('mesa')) expect(out.deviceFeatures).toContain('subgroups');
  });
}, { backends: ['webgpu'] });
