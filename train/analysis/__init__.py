"""Analyses as plain functions of arrays (kinematics; hidden-state analyses to come)."""
