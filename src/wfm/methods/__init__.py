"""Training methods (LightningModules) that share one encoder: JEPA (LatentWave), MAE (WavesFM), supervised."""
