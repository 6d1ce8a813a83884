// --cpu-profile: a V8 CPU profile (node:inspector, 100 us sampling) of a few warm calls of a workload
// (shaders compiled, buffers pooled), written to <dir>/<name>.cpuprofile. cpu-profile-summary.ts says
// where the main thread's time goes: tfjs's per-kernel work, Dawn calls, or waiting on the GPU.
import { Session } from 'node:inspector';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function recordCpuProfile(dir: string, name: string, run: () => Promise<void>, calls = 3): Promise<string> {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => session.post(method, params, (e, v) => (e ? reject(e) : resolve(v))));
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
    for (let i = 0; i < calls; i++) await run();
    const { profile } = await post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80)}.cpuprofile`);
    writeFileSync(`${file}.tmp`, JSON.stringify(profile));
    renameSync(`${file}.tmp`, file);
    return file;
  } finally {
    session.disconnect();
  }
}
