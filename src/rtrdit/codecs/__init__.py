"""Codecs: video I/O, VAEs (Wan and our fast streaming autoencoder) and text encoders."""
