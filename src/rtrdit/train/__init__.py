"""Three-stage training: flow-matching teacher, causal student, Self Forcing + DMD + GAN."""
