"""Training of the networks (no ROS).

Re-ID (FineTrack, issue #7): ``reid_dataset`` (MOT ground-truth crops, cache, augmentation),
``sampler`` (Shuffle-Group Sampling and baselines), ``reid_losses`` (identity, batch-hard
triplet, diversity), ``reid_config`` (typed YAML config), ``reid_trainer`` (the trainer) and
``reid_eval`` (rank-1 / mAP). Modules are imported explicitly; this package imports nothing,
so ``finetrack --help`` stays fast.
"""
