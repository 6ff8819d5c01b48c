"""Headless OpenGL selection for MuJoCo rendering.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` once, when ``mujoco`` is first imported, and
defaults to GLFW, which needs a display. On a Linux machine without one, motorgym chooses EGL
(GPU or Mesa's software EGL) and falls back to OSMesa when no EGL library is installed. An explicit
``MUJOCO_GL`` always wins. This module must not import mujoco.
"""

from __future__ import annotations

import ctypes.util
import os
import sys


def display_available() -> bool:
    """Whether a window can be opened: on Linux only with an X11 or Wayland display."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def select_headless_gl() -> str | None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform) for a headless Linux machine; return the choice.

    Returns the backend that was set, or None when the user already chose one, a display exists,
    or the platform is not Linux.
    """
    if "MUJOCO_GL" in os.environ or not sys.platform.startswith("linux"):
        return None
    if display_available():
        return None
    if "mujoco" in sys.modules:
        # Too late to influence MuJoCo's choice; rendering will explain what to set.
        return None
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
    return None
