"""Options every model shares, named as the official repos' command-line options.

Each model/dataset config calls `get_config()` here and overrides what differs; any key can be
overridden on the command line as `--config.<key>=<value>` (e.g. `--config.data.load_size=143`).
"""

import ml_collections


def get_data_config():
  """Input pipeline options (the official `--dataroot`, `--dataset_mode`, `--preprocess`, ...)."""
  data = ml_collections.ConfigDict()
  # Where images come from: 'folder' (official layouts under dataroot), 'tfds' (a
  # tensorflow-datasets builder, e.g. 'cycle_gan/horse2zebra' or 'pix2pix/facades'), or
  # 'synthetic' (the built-in sets generated from a seed; see jaxgan/data/synthetic.py).
  data.source = 'synthetic'
  data.dataroot = ''
  data.dataset_mode = 'aligned'  # 'aligned' (A|B side by side), 'unaligned', 'single'
  data.tfds_name = ''
  data.tfds_data_dir = ''  # '' = tfds' default (~/tensorflow_datasets or $TFDS_DATA_DIR)
  data.synthetic = 'shapes_paired'  # name of a built-in task
  data.synthetic_size = 32  # image side of the built-in tasks, pixels
  data.synthetic_train = 1024  # images per domain in the built-in train split
  data.synthetic_test = 64
  data.synthetic_seed = 0
  # The data pipeline applies the direction: batches always carry 'A' = the model's input
  # domain (input_nc channels) and 'B' = its output domain (output_nc channels).
  data.direction = 'AtoB'
  data.input_nc = 3
  data.output_nc = 3
  # resize_and_crop | crop | scale_width | scale_width_and_crop | none (the official options)
  data.preprocess = 'resize_and_crop'
  data.load_size = 286
  data.crop_size = 256
  data.test_load_size = 0  # load_size when evaluating; 0 = crop_size, as the official test options
  data.crop_width = 0  # 0: square crops; else crop_size x crop_width (height x width)
  data.no_flip = False
  data.serial_batches = False  # unaligned: take B in order instead of at random
  data.max_dataset_size = 0  # 0 = all images
  data.shuffle_buffer = 1024
  data.num_parallel_calls = -1  # -1 = tf.data.AUTOTUNE
  # tf.data's autotuning. With it on, deleting an iterator waits for the autotuning thread to
  # stop (6-36 s measured at the end of a 4-step train.py run); off, AUTOTUNE parallelism means
  # the host's core count (DEVELOPERS.md, Data).
  data.autotune = False
  data.prefetch = 2  # batches prefetched to device
  # Folder training sets are decoded and resized once and held in memory when they take at
  # most this many MB per process (0: decode and resize every image every epoch, as officially).
  data.cache_mb = 4096.0
  return data


def get_config():
  """The official base options plus the train options, as pix2pix/CycleGAN have them."""
  config = ml_collections.ConfigDict()
  config.model = 'pix2pix'
  config.name = 'experiment'
  config.seed = 0
  config.data = get_data_config()
  config.batch_size = 1  # global, over all devices and processes

  # Networks (official define_G / define_D options).
  config.netG = 'unet_256'
  config.netD = 'basic'
  config.ngf = 64
  config.ndf = 64
  config.n_layers_D = 3
  config.norm = 'batch'
  config.init_type = 'normal'
  config.init_gain = 0.02
  config.no_dropout = False
  # 'float32' (faithful) or 'bfloat16' (compute in bf16, parameters and losses in float32).
  config.compute_dtype = 'float32'
  # Recompute the generators' blocks in the backward pass (jax.checkpoint) instead of keeping
  # their activations: for images or batches that would not fit (docs/performance.md).
  config.remat = False
  # Start a fresh run from weight files instead of the random init: 'NET=PATH[,NET=PATH]'
  # (official .pth state_dicts, or .npz / .pth from export.py; MUNIT: gen=gen_*.pt too), e.g.
  # 'G_A=latest_net_G_A.pth,G_B=latest_net_G_B.pth'. The other nets start fresh; a resumed run
  # keeps its checkpoint.
  config.init_from = ''

  # Objectives.
  config.gan_mode = 'vanilla'  # vanilla | lsgan | wgangp
  config.lambda_L1 = 100.0
  config.lambda_A = 10.0
  config.lambda_B = 10.0
  config.lambda_identity = 0.5
  config.lambda_gp = 10.0  # wgangp only
  config.pool_size = 0

  # Optimisation: Adam(lr, beta1, beta2); lr policy as the official get_scheduler.
  config.lr = 2e-4
  config.beta1 = 0.5
  config.beta2 = 0.999
  config.lr_policy = 'linear'  # linear | step | cosine
  config.n_epochs = 100
  config.n_epochs_decay = 100
  config.lr_decay_iters = 50  # step policy: epochs between x0.1 decays
  config.epoch_count = 1
  config.num_steps = 0  # > 0 overrides (n_epochs + n_epochs_decay) x steps_per_epoch

  # Loop: logging, samples, checkpoints (steps).
  config.log_every = 100  # print_freq
  config.sample_every = 400  # display_freq / update_html_freq
  config.checkpoint_every = 5000  # save_latest_freq
  config.keep_checkpoints = 3
  # Evaluation while training (jaxgan/train_eval.py): every eval_every steps (0: never, as the
  # official code) the held-out split is scored as eval.py scores it; keep_best names one score
  # ('AtoB/fid', 'fid' = its mean over directions, 'AtoB/mae', ...) whose best state is kept in
  # <workdir>/best/ (eval.py / export.py --step=best).
  config.eval_every = 0
  config.keep_best = ''
  # Resuming with settings other than the run's config.json (the model, nets, data, batch size,
  # objective, optimisation) is refused unless this is True; num_steps, the logging and
  # checkpoint intervals, eval.* and the data locations may always change.
  config.allow_config_change = False
  config.num_samples = 8  # images per sample grid

  # eval.py
  config.eval = ml_collections.ConfigDict()
  config.eval.split = 'test'  # the split eval.py translates (the official --phase)
  config.eval.num_test = 0  # 0 = all test images
  config.eval.eval_mode = False  # the official --eval: False keeps dropout and batch stats on
  config.eval.batch_size = 8
  # data.preprocess 'none' translates every image at its own size: sides the generator cannot
  # take are reflect-padded to its multiple and cropped back, so a size the net takes is
  # translated exactly as the official test.py does. N > 0 pads further, to multiples of N, so
  # that nearby sizes share a compiled program; the wider reflected border changes the outputs
  # (instance norm's statistics, the convolutions' borders): up to 238 levels on a 64 x 100
  # image with N = 32 (tools/size_bucket_cost.py).
  config.eval.size_bucket = 0
  # Multimodal models: LPIPS between consecutive samples of each input (the BicycleGAN and MUNIT
  # papers' diversity score: AlexNet, LPIPS v0.0); eval.py --nolpips skips it.
  config.eval.lpips_diversity = True
  config.eval.lpips_net = 'alex'
  config.eval.lpips_version = '0.0'
  # FID/KID during training (config.eval_every) are computed on real data; on the built-in sets,
  # which are scored against their true targets, only when this is True.
  config.eval.fid_on_builtin = False
  return config
