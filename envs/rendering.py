"""Rendering of the arm with the task's start zone and target, headless or in a window."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from motorgym.envs.task import Phase, TrialMarkers

if TYPE_CHECKING:
    from motorgym.envs.batched import ArmTaskCore

# Marker colours (RGBA): the cued target is amber until the go cue, then green; the start zone blue.
# The discs are drawn above the arm, translucent, so the hand shows through them.
START_ZONE_RGBA = (0.3, 0.35, 0.6, 0.55)
TARGET_CUED_RGBA = (0.95, 0.45, 0.0, 0.8)
TARGET_GO_RGBA = (0.0, 0.6, 0.15, 0.8)
HAND_RGBA = (0.1, 0.1, 0.1, 1.0)
_MARKER_HEIGHT_M = 0.003
#: Rendered frames of hand positions kept in the fading trail behind the hand.
TRAIL_FRAMES = 40
PHASE_LABELS = {Phase.DELAY: "delay", Phase.MOVE: "move", Phase.HOLD: "hold"}


def _add_disc(scene: mujoco.MjvScene, pos: np.ndarray, radius_m: float, rgba: tuple[float, ...], z: float) -> None:
    if scene.ngeom >= scene.maxgeom:
        return
    mujoco.mjv_initGeom(
        scene.geoms[scene.ngeom],
        int(mujoco.mjtGeom.mjGEOM_CYLINDER),
        np.array([radius_m, _MARKER_HEIGHT_M, 0.0]),  # cylinder: radius, half-height
        np.array([pos[0], pos[1], z]),
        np.eye(3).ravel(),
        np.array(rgba, dtype=np.float32),
    )
    geom = scene.geoms[scene.ngeom]
    geom.emission, geom.specular = 0.15, 0.0  # flat colours that read the same under any lighting
    scene.ngeom += 1


def add_markers(
    scene: mujoco.MjvScene, markers: TrialMarkers, hand_pos: np.ndarray, trail: Sequence[np.ndarray] = ()
) -> None:
    """Append the start zone, target, hand trail (oldest faintest) and hand marker to an
    already-updated scene."""
    if np.isfinite(markers.start_radius_m):
        _add_disc(scene, markers.start_pos, markers.start_radius_m, START_ZONE_RGBA, 0.04)
    waiting = markers.phase == Phase.DELAY or markers.catch_trial
    _add_disc(scene, markers.target_pos, markers.target_radius_m, TARGET_CUED_RGBA if waiting else TARGET_GO_RGBA, 0.05)
    for i, position in enumerate(trail):
        _add_disc(scene, position, 0.003, (*HAND_RGBA[:3], 0.1 + 0.6 * (i + 1) / len(trail)), 0.055)
    _add_disc(scene, hand_pos, 0.005, HAND_RGBA, 0.06)


def phase_label(markers: TrialMarkers, time_ms: float) -> str:
    """The text drawn on a frame: the trial phase and the time in the trial."""
    phase = "catch" if markers.catch_trial else PHASE_LABELS.get(Phase(markers.phase), str(markers.phase))
    return f"{phase}  {time_ms:.0f} ms"


def draw_label(frame: np.ndarray, text: str) -> np.ndarray:
    """``frame`` with ``text`` written in its top-left corner."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    size = max(8, frame.shape[1] // 18)
    ImageDraw.Draw(image).text((size // 2, size // 3), text, fill=(20, 20, 20), font=ImageFont.load_default(size))
    return np.asarray(image)


class ArmRenderer:
    """Offscreen RGB renderer from the model's top-down camera."""

    def __init__(self, model: mujoco.MjModel, width_px: int, height_px: int) -> None:
        try:
            self._renderer = mujoco.Renderer(model, height=height_px, width=width_px)
        except Exception as error:  # the GL backend's errors vary by platform
            backend = os.environ.get("MUJOCO_GL", "<unset>")
            raise RuntimeError(
                f"could not create an OpenGL context for rendering (MUJOCO_GL={backend}). On a machine "
                "without a display, set MUJOCO_GL=egl (or osmesa) before importing mujoco or motorgym, "
                "and install the GL libraries (Debian: libegl1 libgl1 or libosmesa6)."
            ) from error
        self._camera = "top"

    def render(
        self, data: mujoco.MjData, markers: TrialMarkers, hand_pos: np.ndarray, trail: Sequence[np.ndarray] = ()
    ) -> np.ndarray:
        """An (height, width, 3) uint8 frame of ``data`` with the trial markers drawn in."""
        self._renderer.update_scene(data, camera=self._camera)
        add_markers(self._renderer.scene, markers, hand_pos, trail)
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()


class EnvFrames:
    """Frames of one environment of a core, with the renderer or window made on first use. RGB
    frames show the hand's trail over the last :data:`TRAIL_FRAMES` rendered frames of the trial
    and, written in, the trial phase and time."""

    def __init__(self, core: ArmTaskCore, render_mode: str, width_px: int, height_px: int) -> None:
        self.core, self.render_mode = core, render_mode
        self._size = (width_px, height_px)
        self._renderer: ArmRenderer | None = None
        self._viewer: ArmViewer | None = None
        self._trail: deque[np.ndarray] = deque(maxlen=TRAIL_FRAMES)
        self._trail_env = -1

    def render(self, env: int = 0) -> np.ndarray | None:
        """An RGB frame (``rgb_array``), or None after updating the window (``human``)."""
        arm = self.core.arm
        data = arm.mj_data(env)
        # The disc and its trail are the seen hand (the cursor, which a visuomotor rotation turns).
        markers = self.core.trial_markers(env)
        hand = self.core.task.perturbations.cursor(arm.hand_pos[env : env + 1], slice(env, env + 1))[0]
        steps = int(self.core.task.steps[env])
        if self.render_mode == "human":
            if self._viewer is None:
                self._viewer = ArmViewer(arm.model, data)
            self._viewer.show(markers, hand)
            return None
        if self._renderer is None:
            self._renderer = ArmRenderer(arm.model, *self._size)
        if steps == 0 or env != self._trail_env:  # a new trial starts a new trail
            self._trail.clear()
            self._trail_env = env
        frame = self._renderer.render(data, markers, hand, list(self._trail))
        self._trail.append(hand.copy())
        return draw_label(frame, phase_label(markers, steps * self.core.config.control_step_ms))

    def close(self) -> None:
        for closable in (self._renderer, self._viewer):
            if closable is not None:
                closable.close()
        self._renderer = self._viewer = None


class ArmViewer:
    """An interactive window (``render_mode="human"``); needs a display."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        import mujoco.viewer  # imported here: it loads GLFW, which needs a display

        try:
            self._viewer = mujoco.viewer.launch_passive(model, data, show_left_ui=False, show_right_ui=False)
        except Exception as error:
            raise RuntimeError(
                'render_mode="human" needs a display; on a headless machine use render_mode="rgb_array"'
            ) from error

    def show(self, markers: TrialMarkers, hand_pos: np.ndarray) -> None:
        with self._viewer.lock():
            self._viewer.user_scn.ngeom = 0
            add_markers(self._viewer.user_scn, markers, hand_pos)
        self._viewer.sync()

    def close(self) -> None:
        self._viewer.close()
