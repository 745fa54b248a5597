"""Notifications: one email per workflow outcome (SNS) and the CSV performance report (S3)."""
