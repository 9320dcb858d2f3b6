"""Test support: real authcore server processes and clients for both transports."""
