// `fae --help` and `fae <command> --help`.
import type { CommandName } from './args.js';

export const MAIN_HELP = `fae: FAE (Feature Auto-Encoder) end to end on real MNIST digits, on TensorFlow.js

Usage: fae <command> [options]

Commands:
  demo               sample a labelled grid from the DiT and the TARFlow, reconstruct held-out digits,
                     print the metrics as JSON (shipped checkpoints; --train retrains everything first)
  encode [png...]    images -> frozen encoder -> adapter -> FAE latents (safetensors)
  reconstruct [png...]
                     images -> latents -> feature decoder -> pixel decoder -> PNG grid + PSNR
  sample             class-conditional digits from the DiT or the TARFlow -> PNG grid
  eval               held-out metrics: classifier accuracy and digit FID of samples, feature cosine
                     and PSNR of reconstructions, linear probes of encoder features vs FAE latents
  train <stage>      train one stage: classifier, encoder, features, stage-ib, stage-ia, stage-ii, dit,
                     tarflow, dit-pixels (the pixel-space baseline), or all of them in order
  train all --data <folder|shards> --recipe <name> --models <dir> [--encoder <hub id|folder>]
                     a whole FAE + generators on your own images (@fae/pipeline recipes: smoke,
                     digits, paper-dinov2-g, paper-siglip2); sample / reconstruct / encode / eval
                     --data then work on <dir>
  shard <sample|cache|stats|merge> ... --shard i/n|auto --out <dir>
                     per-item work split over processes / GPUs / cluster tasks, merged exactly
                     (fae shard --help)
  launch --gpus N -- <fae command>
                     one process per GPU on this host, process i with --shard i/N

Options for every command:
  --models <src>     folder, http(s) URL or hub id (org/name) with one sub-folder per component
                     (default: the shipped checkpoints; for train: <out>/checkpoints)
  --backend <name>   wasm (default), cpu, webgpu, auto
  --seed <n>         seed of every random choice (default 0)
  --out <dir>        where PNGs, JSON and checkpoints go (default ./fae-out)
  --threads <n>      wasm threads (default 1: fastest for these small models on a busy 2-core CPU)
  --quiet            no progress bars
  -h, --help         this help; \`fae <command> --help\` for a command's options

Examples:
  fae demo                                   # the embedded default, < 2 minutes on 2 CPU cores
  fae sample --generator tarflow --class 7 --per-class 16 --out out/
  fae reconstruct digit.png --out out/
  fae train all --out run1/                  # everything from scratch (see README for timings)
  fae eval --models run1/checkpoints --out run1/
  fae train all --data photos/ --recipe smoke --models run2/    # class sub-folders of PNG/JPEG
  fae sample --models run2/ --labels 0,1,2 --out run2/
  fae eval --models run2/ --data photos/ --out run2/

Exit codes: 0 success, 1 runtime error (unreadable file, bad checkpoint), 2 bad command line.`;

export const COMMAND_HELP: Record<CommandName, string> = {
  demo: `fae demo [--train] [--per-class n] [--steps n] [--cfg s] [global options]

Loads the components (shipped checkpoints unless --models), samples a labelled 10 x n grid of digits
from the DiT and from the TARFlow, reconstructs held-out digits, evaluates, and writes
<out>/demo-dit.png, <out>/demo-tarflow.png, <out>/demo-reconstructions.png, <out>/metrics.json;
the metrics are also printed as JSON on stdout.
  --train            first retrain every stage from scratch into <out>/checkpoints (progress bars)
  --per-class <n>    samples per class in the grids (default 8)
  --steps <n>        DiT sampling steps (default: the checkpoint's)
  --cfg <s>          classifier-free guidance scale (default: the checkpoint's)`,
  encode: `fae encode [image.png ...] [--mnist n] [global options]

Encodes PNG images (any size; resized to 28x28 grey) or the first n held-out MNIST digits
(--mnist, default 16) to FAE latents; writes <out>/latents.safetensors (latents [N, 7, 7, c], NHWC,
plus labels when known) and prints the latent shape and statistics.`,
  reconstruct: `fae reconstruct [image.png ...] [--mnist n] [global options]

Encodes and decodes PNG images or the first n held-out digits (default 16); writes
<out>/reconstructions.png (originals above reconstructions) and prints PSNR and feature cosine as JSON.`,
  sample: `fae sample [--generator dit|tarflow] [--class d | --labels 0,1,...] [--per-class n]
           [--steps n] [--cfg s] [global options]

Generates digits of the requested classes (default: all ten) and writes <out>/samples-<generator>.png,
one row per requested label, and <out>/samples-<generator>.safetensors (latents and labels).`,
  eval: `fae eval [--generator dit|tarflow] [--per-class n] [--steps n] [--cfg s] [global options]
fae eval --data <folder|shards> [--images n] [--per-class n] [global options]

Without --data: evaluates the digits components on the held-out digits and writes <out>/metrics.json
(also printed): classifier accuracy and digit FID of DiT and TARFlow samples (--per-class, default 50:
500 samples each; --generator: only that one), feature cosine and PSNR of reconstructions,
linear-probe accuracy of encoder features vs FAE latents.
With --data: evaluates the pipeline in --models on the first --images (default 256) images of a
folder or tar shards: reconstruction PSNR / SSIM and feature cosine / R^2, latent mean / std, and for
each generator the Frechet distance of the frozen encoder's pooled features of samples vs the images.`,
  train: `fae train <stage> [--steps n] [--batch n] [--lr x] [--continue | --resume] [global options]
fae train all --data <folder|shards|mnist> --recipe <name> --models <dir> [--encoder <hub id|folder>]
              [--batch n] [--step-scale x] [--lpips <folder>] [--restart] [global options]

With --recipe: trains a whole pipeline (@fae/pipeline's trainPipeline) on your images: an image folder
(class sub-folders = labels, or a flat folder with labels.txt; PNG/JPEG of any size, grey/RGB/RGBA) or
WebDataset tar shards (a .tar, a folder of them, or train-{000..099}.tar). Recipes: smoke (every
stage, tiny, seconds), digits (the shipped MNIST run), paper-dinov2-g, paper-siglip2 (the paper's
shapes and steps; scale them with --step-scale / --batch). --encoder replaces the recipe's encoder by a
frozen pretrained one (e.g. facebook/dinov2-base, google/siglip2-base-patch16-256). The paper recipes'
pixel decoder trains with LPIPS: --lpips names a folder (or URL / hub id) holding torchvision's
vgg16 weights and LPIPS v0.1 lin weights (see @fae/pipeline's README). Started again
with the same arguments, a run skips its finished stages and resumes the interrupted one.

Without --recipe, the digits stages one by one:

Stages, in pipeline order (each reads what the earlier ones wrote into the models folder):
  classifier   the digit classifier used for evaluation (real training digits)
  encoder      the small DINOv2-architecture ViT, pretrained by masked-image modelling
  features     cache the frozen encoder's features of the training digits (the stages below
               do it themselves when the cache is missing or older than the encoder)
  stage-ib     adapter + feature decoder on the frozen encoder's features (L2 + beta KL)
  stage-ia     pixel decoder on frozen features + Gaussian noise
  stage-ii     pixel decoder fine-tuned on reconstructed features
  dit          LightningDiT, class-conditional, on the FAE latents
  tarflow      TARFlow, class-conditional, on the FAE latents
  dit-pixels   the same DiT on raw pixels (the convergence baseline)
  all          every stage in order, then eval
The models folder is --models (default <out>/checkpoints); it must be a local folder.
  --steps <n>        training steps (default: the stage's, see the README's table)
  --batch <n>        batch size; without --steps the stage keeps the samples it sees (steps scaled by
                     default batch / n) and without --lr its learning rate scales by sqrt(n / default
                     batch) (the README's GPU recipe uses --batch 256)
  --lr <x>           peak learning rate (default: the stage's, scaled as above)
  --continue         dit, tarflow, dit-pixels: a new run starting from the weights in the models folder
  --resume           dit, tarflow, dit-pixels: go on with an interrupted run from its last checkpoint
                     (<models>/resume/<stage>, written ~20 times a run, removed when the stage ends);
                     the same bits as the uninterrupted run. Needs the same --steps/--batch/--lr/--seed`,
};
