// Which GPU a `fae launch` process gets. WebGPU in Node is Dawn (the `webgpu` package): its
// requestAdapter enumerates the Vulkan physical devices and takes the first one (whose name contains
// the `adapter=` create() flag, when given); it has no adapter index, and identical cards have identical
// names. So the choice has to happen below Dawn, in the order Vulkan lists the devices:
//   - Mesa's device-select layer (VK_LAYER_MESA_device_select, an implicit layer shipped with Mesa's
//     Vulkan drivers; it sits in front of every driver, NVIDIA's included) reads
//     DRI_PRIME=pci-DDDD_BB_DD_F! : that PCI device first, and with the '!' the only one listed
//     (needs Vulkan 1.1 and VK_EXT_pci_bus_info from the driver: NVIDIA and Mesa drivers have both).
//     This is the one per-process switch that tells identical cards apart; the launcher sets it.
//   - MESA_VK_DEVICE_SELECT=vendor:device[!] (same layer) and VK_LOADER_DEVICE_SELECT=vendor:device
//     (Khronos loader, Linux, newer loaders; reorders only) pick a card *model*: for mixed hosts.
//   - CUDA_VISIBLE_DEVICES is CUDA's; Vulkan drivers do not read it (set for CUDA tools in the job).
//   - Device isolation (one container per GPU, Kubernetes nvidia.com/gpu: 1, Slurm cgroups) needs nothing.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HostGpu {
  /** PCI address as sysfs names it, e.g. 0000:18:00.0 */
  pci: string;
  vendor: string;
  device: string;
}

const GPU_VENDORS = new Set(['10de', '1002', '8086']); // NVIDIA, AMD, Intel (not BMC display chips)

/**
 * The host's GPUs in PCI bus order (nvidia-smi's numbering, and CUDA's with CUDA_DEVICE_ORDER=PCI_BUS_ID):
 * display controllers (class 0x0300 VGA, 0x0302 3D) of NVIDIA, AMD or Intel; only NVIDIA's where there are any.
 */
export function listHostGpus(sysfs = '/sys/bus/pci/devices'): HostGpu[] {
  let names: string[];
  try {
    names = readdirSync(sysfs);
  } catch {
    return [];
  }
  const read = (dir: string, f: string) => {
    try {
      return readFileSync(join(sysfs, dir, f), 'utf8').trim().toLowerCase().replace(/^0x/, '');
    } catch {
      return '';
    }
  };
  const gpus = names
    .filter((d) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(d) && /^030[02]/.test(read(d, 'class')))
    .map((pci) => ({ pci: pci.toLowerCase(), vendor: read(pci, 'vendor'), device: read(pci, 'device') }))
    .filter((g) => GPU_VENDORS.has(g.vendor))
    .sort((a, b) => (a.pci < b.pci ? -1 : a.pci > b.pci ? 1 : 0));
  return gpus.some((g) => g.vendor === '10de') ? gpus.filter((g) => g.vendor === '10de') : gpus;
}

/** The device-select layer's tag for a PCI address: 0000:18:00.0 -> pci-0000_18_00_0 */
export function driPrimeTag(pci: string): string {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(pci.trim());
  if (!m) throw new Error(`not a PCI address (expected DDDD:BB:DD.F): '${pci}'`);
  return `pci-${m[1]}_${m[2]}_${m[3]}_${m[4]}`.toLowerCase();
}

/** The Khronos loader's implicit-layer folders (Linux), first the environment's. */
export function implicitLayerDirs(env: Record<string, string | undefined> = process.env): string[] {
  const fromEnv = [env.VK_IMPLICIT_LAYER_PATH, env.VK_ADD_IMPLICIT_LAYER_PATH].flatMap((v) => (v ? v.split(':') : []));
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local/share');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  return [...fromEnv, join(dataHome, 'vulkan/implicit_layer.d'), '/etc/vulkan/implicit_layer.d', ...dataDirs.map((d) => join(d, 'vulkan/implicit_layer.d'))];
}

/** The manifest of Mesa's device-select layer, if the loader can find one. */
export function findDeviceSelectLayer(dirs = implicitLayerDirs()): string | null {
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    let files: string[];
    try {
      files = readdirSync(d);
    } catch {
      continue;
    }
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      try {
        if (readFileSync(join(d, f), 'utf8').includes('VK_LAYER_MESA_device_select')) return join(d, f);
      } catch {
        // unreadable manifest: not ours
      }
    }
  }
  return null;
}

export interface GpuPlan {
  /** The GPUs process i is pointed at (PCI addresses; empty where none were found). */
  gpus: HostGpu[];
  layer: string | null;
  /** Environment of process i. */
  env: (i: number) => Record<string, string>;
  /** What the plan cannot guarantee, said once. */
  warnings: string[];
}

export interface GpuPlanOptions {
  env?: Record<string, string | undefined>;
  sysfs?: string;
  layerDirs?: string[];
}

/**
 * Per-process GPU selection for N processes. FAE_GPU_PCI (comma-separated PCI addresses) overrides
 * the sysfs listing; FAE_VK_DEVICES (vendor:device per process) adds MESA_VK_DEVICE_SELECT /
 * VK_LOADER_DEVICE_SELECT for hosts with different card models.
 */
export function planGpus(n: number, o: GpuPlanOptions = {}): GpuPlan {
  const base = o.env ?? process.env;
  const warnings: string[] = [];
  const given = base.FAE_GPU_PCI?.split(',').map((s) => s.trim()).filter(Boolean);
  const gpus = given?.length ? given.map((pci) => ({ pci: pci.toLowerCase(), vendor: '', device: '' })) : listHostGpus(o.sysfs);
  if (given?.length && given.length < n) throw new Error(`FAE_GPU_PCI lists ${given.length} GPUs for ${n} processes`);
  if (!given?.length && gpus.length && gpus.length < n) throw new Error(`${n} processes asked for, this host has ${gpus.length} GPUs (${gpus.map((g) => g.pci).join(', ')})`);
  gpus.forEach((g) => driPrimeTag(g.pci)); // refuse a malformed FAE_GPU_PCI before anything starts
  const layer = gpus.length ? findDeviceSelectLayer(o.layerDirs ?? implicitLayerDirs(base)) : null;
  if (gpus.length && !layer) warnings.push('Mesa\'s Vulkan device-select layer (VK_LAYER_MESA_device_select, package mesa-vulkan-drivers) was not found: DRI_PRIME is then ignored and every WebGPU process gets the first GPU; install it, or run one container per GPU');
  if (gpus.length && base.NODEVICE_SELECT) warnings.push('NODEVICE_SELECT is set: the device-select layer is off, so DRI_PRIME is ignored');
  if (!gpus.length && n > 1) warnings.push('no GPUs found on the PCI bus (or FAE_GPU_PCI): the processes get no device selection (fine for wasm/cpu runs)');
  const vk = base.FAE_VK_DEVICES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (vk?.length && vk.length !== n) throw new Error(`FAE_VK_DEVICES lists ${vk.length} devices for ${n} processes`);
  return {
    gpus: gpus.slice(0, n), layer, warnings,
    env: (i) => {
      const env: Record<string, string> = {
        FAE_GPU_INDEX: String(i), FAE_GPU_COUNT: String(n),
        CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: String(i), NVIDIA_VISIBLE_DEVICES: String(i),
      };
      if (gpus.length) Object.assign(env, { FAE_GPU_PCI_ADDRESS: gpus[i].pci, DRI_PRIME: `${driPrimeTag(gpus[i].pci)}!` });
      if (vk?.length) Object.assign(env, { MESA_VK_DEVICE_SELECT: vk[i], VK_LOADER_DEVICE_SELECT: vk[i].replace(/!$/, '') });
      return env;
    },
  };
}
