"""Sending platforms (Microsoft 365, Google Workspace, Mimecast, …): catalogue, retired ranges, coverage."""
