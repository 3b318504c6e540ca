"""Stylization data: manifests, built-in stylizers, generators and latent shards."""
