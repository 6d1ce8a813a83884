# Sourced by run-gpu.sh and run-int8.sh on the GPU machine (after prepare.sh; the repository root is the
# working directory): the Vulkan loader from .device/debs, NVIDIA's ICD, Node at /tmp/fae/node, the
# `webgpu` package beside the bundles, $OUT, and the card's name, driver and clocks on stdout.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for f in .device/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
mkdir -p /tmp/fae && xz -dc .device/node.xz > /tmp/fae/node && chmod +x /tmp/fae/node
tar -C .device -xJf .device/webgpu.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
