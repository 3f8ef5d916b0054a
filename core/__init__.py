"""Shared plumbing for the Face of Another character simulator: errors and configuration."""
