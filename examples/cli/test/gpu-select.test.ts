// fae launch's per-process GPU selection: the host's GPUs from a (fake) sysfs PCI tree in bus order
// (NVIDIA only where present, BMC display chips left out), the device-select layer's DRI_PRIME tag per
// process, the layer manifest looked up where the Vulkan loader looks, overrides and refusals.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driPrimeTag, findDeviceSelectLayer, implicitLayerDirs, listHostGpus, planGpus } from '../src/commands/gpu-select.js';

const root = mkdtempSync(join(tmpdir(), 'fae-gpu-select-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fakeSysfs(name: string, devices: Array<[string, string, string, string]>): string {
  const dir = join(root, name);
  for (const [pci, cls, vendor, device] of devices) {
    mkdirSync(join(dir, pci), { recursive: true });
    writeFileSync(join(dir, pci, 'class'), `${cls}\n`);
    writeFileSync(join(dir, pci, 'vendor'), `${vendor}\n`);
    writeFileSync(join(dir, pci, 'device'), `${device}\n`);
  }
  return dir;
}

// an 8-GPU H100 host: an ASPEED BMC VGA, a NIC, and the cards listed out of order
const H100 = fakeSysfs('h100', [
  ['0000:03:00.0', '0x030000', '0x1a03', '0x2000'], // ASPEED BMC
  ['0000:db:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:18:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:2a:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:19:00.0', '0x020000', '0x15b3', '0x1021'], // NIC
  ['0000:3a:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:5d:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:9a:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:ab:00.0', '0x030200', '0x10de', '0x2330'],
  ['0000:ba:00.0', '0x030200', '0x10de', '0x2330'],
]);
const LAYERS = join(root, 'layers');
mkdirSync(LAYERS);
writeFileSync(join(LAYERS, 'VkLayer_MESA_device_select.json'), JSON.stringify({ file_format_version: '1.0.0', layer: { name: 'VK_LAYER_MESA_device_select', type: 'GLOBAL' } }));

describe('GPU selection for fae launch', () => {
  it('lists the GPUs in PCI bus order, NVIDIA only, without the BMC chip', () => {
    expect(listHostGpus(H100).map((g) => g.pci)).toEqual(['0000:18:00.0', '0000:2a:00.0', '0000:3a:00.0', '0000:5d:00.0', '0000:9a:00.0', '0000:ab:00.0', '0000:ba:00.0', '0000:db:00.0']);
    const amd = fakeSysfs('amd', [['0000:c1:00.0', '0x030000', '0x1002', '0x744c'], ['0000:03:00.0', '0x030000', '0x1a03', '0x2000']]);
    expect(listHostGpus(amd)).toEqual([{ pci: '0000:c1:00.0', vendor: '1002', device: '744c' }]);
    expect(listHostGpus(join(root, 'none'))).toEqual([]);
    expect(driPrimeTag('0000:DB:00.0')).toBe('pci-0000_db_00_0');
    expect(() => driPrimeTag('db:00.0')).toThrow(/not a PCI address/);
  });

  it('points process i at GPU i: DRI_PRIME=pci-...! and CUDA in bus order; warns without the layer', () => {
    const plan = planGpus(4, { env: {}, sysfs: H100, layerDirs: [join(root, 'empty'), LAYERS] });
    expect(plan.layer).toBe(join(LAYERS, 'VkLayer_MESA_device_select.json'));
    expect(plan.warnings).toEqual([]);
    expect([0, 1, 2, 3].map((i) => plan.env(i).DRI_PRIME)).toEqual(['pci-0000_18_00_0!', 'pci-0000_2a_00_0!', 'pci-0000_3a_00_0!', 'pci-0000_5d_00_0!']);
    expect(plan.env(3)).toMatchObject({ FAE_GPU_INDEX: '3', FAE_GPU_COUNT: '4', CUDA_VISIBLE_DEVICES: '3', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', FAE_GPU_PCI_ADDRESS: '0000:5d:00.0' });
    const bare = planGpus(2, { env: { NODEVICE_SELECT: '1' }, sysfs: H100, layerDirs: [join(root, 'empty')] });
    expect(bare.warnings.join('\n')).toMatch(/device-select layer .* was not found[\s\S]*NODEVICE_SELECT is set/);
    expect(() => planGpus(9, { env: {}, sysfs: H100, layerDirs: [LAYERS] })).toThrow(/9 processes asked for, this host has 8 GPUs/);
  });

  it('FAE_GPU_PCI overrides the listing; FAE_VK_DEVICES adds the model selectors; no GPUs: no selection', () => {
    const plan = planGpus(2, { env: { FAE_GPU_PCI: '0000:ba:00.0, 0000:18:00.0', FAE_VK_DEVICES: '10de:2330,10de:2331!' }, sysfs: join(root, 'none'), layerDirs: [LAYERS] });
    expect(plan.env(0)).toMatchObject({ DRI_PRIME: 'pci-0000_ba_00_0!', MESA_VK_DEVICE_SELECT: '10de:2330', VK_LOADER_DEVICE_SELECT: '10de:2330' });
    expect(plan.env(1)).toMatchObject({ DRI_PRIME: 'pci-0000_18_00_0!', MESA_VK_DEVICE_SELECT: '10de:2331!', VK_LOADER_DEVICE_SELECT: '10de:2331' });
    expect(() => planGpus(3, { env: { FAE_GPU_PCI: '0000:ba:00.0' } })).toThrow(/FAE_GPU_PCI lists 1 GPUs for 3 processes/);
    expect(() => planGpus(1, { env: { FAE_GPU_PCI: 'gpu0' } })).toThrow(/not a PCI address/);
    expect(() => planGpus(2, { env: { FAE_VK_DEVICES: '10de:2330' }, sysfs: join(root, 'none') })).toThrow(/FAE_VK_DEVICES lists 1 devices for 2 processes/);
    const cpu = planGpus(2, { env: {}, sysfs: join(root, 'none') });
    expect(cpu.env(1).DRI_PRIME).toBeUndefined();
    expect(cpu.warnings[0]).toMatch(/no GPUs found/);
  });

  it('looks for the layer where the Vulkan loader does', () => {
    const dirs = implicitLayerDirs({ HOME: '/home/u', VK_ADD_IMPLICIT_LAYER_PATH: '/opt/layers', XDG_DATA_DIRS: '/usr/share' });
    expect(dirs).toEqual(['/opt/layers', '/home/u/.local/share/vulkan/implicit_layer.d', '/etc/vulkan/implicit_layer.d', '/usr/share/vulkan/implicit_layer.d']);
    expect(findDeviceSelectLayer([join(root, 'none')])).toBeNull();
  });
});
