"""The Wan-architecture DiT, its attention, RoPE, reference adapter, KV cache and weight loading."""
