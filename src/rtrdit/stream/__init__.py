"""Streaming inference: the few-step causal sampler and the Stylizer session."""
