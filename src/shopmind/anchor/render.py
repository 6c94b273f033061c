"""The talking head: a mesh warp of one portrait driven by mouth, blink, brow, gaze and head tracks.

Why this design (speed on 2 CPU cores): the face mesh is computed once. Each frame only moves
landmarks (jaw drop, lips, lids, brows, irises, a small head sway), and the displacement of every
pixel of a head-sized region is interpolated from the landmarks through a Delaunay triangulation
whose barycentric weights are also precomputed once. That is a piecewise-affine warp; one
fixed-point step turns the forward displacement into the backward map `cv2.remap` needs. The inner
mouth (dark cavity plus a band of teeth sampled from the photo when it shows teeth) is painted into
the warped lip opening. Frames are raw RGB piped to the bundled ffmpeg, never written to disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# 478-point face mesh indices (mediapipe topology)
UPPER_LIP_OUT = [185, 40, 39, 37, 0, 267, 269, 270, 409]
LOWER_LIP_OUT = [146, 91, 181, 84, 17, 314, 405, 321, 375]
UPPER_LIP_IN = [191, 80, 81, 82, 13, 312, 311, 310, 415]
LOWER_LIP_IN = [95, 88, 178, 87, 14, 317, 402, 318, 324]
CORNERS_OUT = (61, 291)
CORNERS_IN = (78, 308)
INNER_LOOP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
EYES = [  # (upper lid, lower lid, top-centre, bottom-centre)
    ([246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155], 159, 145),
    ([466, 388, 387, 386, 385, 384, 398], [249, 390, 373, 374, 380, 381, 382], 386, 374),
]
CREASES = [[247, 30, 29, 27, 28, 56, 190], [467, 260, 259, 257, 258, 286, 414]]
BROWS = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
IRISES = list(range(468, 478))
CHIN, FOREHEAD, NOSE_TIP = 152, 10, 1


@dataclass
class Pose:
    """One frame's controls (all dimensionless, scaled by the face size inside the rig)."""

    opening: float = 0.0  # 0 shut .. 1 wide
    rounding: float = 0.0  # -1 spread .. +1 rounded
    blink: float = 0.0  # 0 open .. 1 shut
    brow: float = 0.0  # -1 frown .. +1 raised
    gaze: tuple[float, float] = (0.0, 0.0)  # iris shift in iris radii
    head: tuple[float, float, float] = (0.0, 0.0, 0.0)  # dx, dy (face heights), roll (degrees)
    smile: float = 0.0  # 0 .. 1 mouth corners up


class FaceRig:
    """Precomputed warp of one portrait; `render(pose)` returns a new frame (H×W×3 uint8)."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray) -> None:
        from scipy.spatial import Delaunay

        self.image = np.ascontiguousarray(image)
        self.lm = landmarks.astype(np.float64)
        H, W = image.shape[:2]
        xs, ys = self.lm[:, 0], self.lm[:, 1]
        self.face_h = float(np.linalg.norm(self.lm[CHIN] - self.lm[FOREHEAD]))
        self.mouth_w = float(np.linalg.norm(self.lm[CORNERS_OUT[0]] - self.lm[CORNERS_OUT[1]]))
        fw = xs.max() - xs.min()
        x0 = int(max(0, xs.min() - 0.35 * fw))
        x1 = int(min(W, xs.max() + 0.35 * fw))
        y0 = int(max(0, ys.min() - 0.45 * self.face_h))
        y1 = int(min(H, ys.max() + 0.30 * self.face_h))
        self.roi = (x0, y0, x1, y1)
        rw, rh = x1 - x0, y1 - y0
        # fixed anchors on the ROI border keep the warp local
        k = 10
        border = np.concatenate([
            np.stack([np.linspace(0, rw - 1, k), np.zeros(k)], 1), np.stack([np.linspace(0, rw - 1, k), np.full(k, rh - 1)], 1),
            np.stack([np.zeros(k), np.linspace(0, rh - 1, k)], 1), np.stack([np.full(k, rw - 1), np.linspace(0, rh - 1, k)], 1),
        ])
        local = self.lm - np.array([x0, y0])
        self.n_lm = len(local)
        pts = np.concatenate([local, border])
        tri = Delaunay(pts)
        # barycentric weights on a half-resolution grid: the displacement field is smooth (piecewise linear)
        hh, hw = (rh + 1) // 2, (rw + 1) // 2
        gy, gx = np.mgrid[0:hh, 0:hw]
        grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64) * 2.0
        simplex = tri.find_simplex(grid)
        simplex[simplex < 0] = 0
        T = tri.transform[simplex]
        b2 = np.einsum("nij,nj->ni", T[:, :2, :], grid - T[:, 2, :])
        bary = np.concatenate([b2, 1 - b2.sum(1, keepdims=True)], 1).astype(np.float32)
        verts = tri.simplices[simplex].astype(np.int32)
        self.n_pts = len(pts)
        from scipy.sparse import csr_matrix

        # one sparse matrix turns control-point displacements into the dense field (3 weights per pixel)
        rows = np.repeat(np.arange(len(grid)), 3)
        self.interp = csr_matrix((bary.ravel(), (rows, verts.ravel())), shape=(len(grid), self.n_pts))
        self.half = (hh, hw)
        self.hgrid_x, self.hgrid_y = gx.astype(np.float32), gy.astype(np.float32)
        fy, fx = np.mgrid[0:rh, 0:rw]
        self.grid_x, self.grid_y = fx.astype(np.float32), fy.astype(np.float32)
        self.roi_src = np.ascontiguousarray(self.image[y0:y1, x0:x1])
        self._eye_gap = [float(self.lm[b, 1] - self.lm[t, 1]) for _, _, t, b in EYES]
        self.teeth, self.cavity = self._mouth_colours()
        self.patch = self._inner_patch()
        self._gap0 = float(np.max(self.lm[LOWER_LIP_IN, 1] - self.lm[UPPER_LIP_IN, 1]))
        self._below = self.lm[:, 1] > (self.lm[CORNERS_OUT[0], 1] + self.lm[CORNERS_OUT[1], 1]) / 2
        cx = (self.lm[CORNERS_OUT[0], 0] + self.lm[CORNERS_OUT[1], 0]) / 2
        half = max(1.0, fw / 2)
        self._jaw_w = np.clip(1 - np.abs(self.lm[:, 0] - cx) / (0.95 * half), 0, 1) ** 0.7 * 0.8

    def _mouth_colours(self) -> tuple[np.ndarray, np.ndarray]:
        """Teeth colour from the photo when the mouth shows bright teeth, else a neutral off-white."""
        mask = np.zeros(self.image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(self.lm[INNER_LOOP]).astype(np.int32)], 1)
        inside = self.image[mask.astype(bool)]
        teeth = np.array([228, 222, 210], np.float32)
        if inside.shape[0] > 30:
            bright = inside[inside.mean(1) > np.percentile(inside.mean(1), 70)]
            if bright.size and bright.mean() > 150:
                teeth = bright.mean(0).astype(np.float32)
        return teeth, np.array([70, 28, 34], np.float32)

    def _inner_patch(self) -> tuple[tuple[int, int], np.ndarray, np.ndarray] | None:
        """The photo's own open-mouth interior (teeth), cut out once, or None for a closed mouth."""
        loop = self.lm[INNER_LOOP]
        if float(np.max(self.lm[LOWER_LIP_IN, 1] - self.lm[UPPER_LIP_IN, 1])) < 3.0:
            return None
        x0, y0 = np.floor(loop.min(0)).astype(int) - 1
        x1, y1 = np.ceil(loop.max(0)).astype(int) + 2
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((loop - [x0, y0]) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        # shrink by ~2 px so the lips' inner edges do not travel with the teeth
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        # only the teeth travel: bright, unsaturated pixels (not the pink inner lip, not the dark gaps)
        pix = self.image[y0:y1, x0:x1]
        hsv = cv2.cvtColor(np.ascontiguousarray(pix), cv2.COLOR_RGB2HSV)
        teeth = ((hsv[..., 2] > 140) & (hsv[..., 1] < 90)).astype(np.uint8) * 255
        mask = cv2.bitwise_and(mask, cv2.dilate(teeth, np.ones((3, 3), np.uint8)))
        m = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32)[..., None] / 255.0
        return (int(x0), int(y0)), pix.astype(np.float32), m

    def displacement(self, pose: Pose) -> np.ndarray:
        """Forward displacement (px) of every control point for `pose` (landmarks, then fixed border)."""
        d = np.zeros((self.n_pts, 2), np.float64)
        lm = self.lm
        jaw = pose.opening * 0.24 * self.mouth_w
        # jaw drop: everything below the mouth line, weighted towards the chin
        d[: self.n_lm, 1] += np.where(self._below, jaw * self._jaw_w, 0.0)
        d[LOWER_LIP_OUT + LOWER_LIP_IN, 1] = jaw
        d[UPPER_LIP_OUT + UPPER_LIP_IN, 1] -= 0.10 * jaw
        # corners: rounding pulls them in, spreading/smiling pushes them out and up
        cx = (lm[CORNERS_OUT[0], 0] + lm[CORNERS_OUT[1], 0]) / 2
        for idx in CORNERS_OUT + CORNERS_IN:
            side = math.copysign(1.0, lm[idx, 0] - cx)
            d[idx, 0] += side * (-0.10 * pose.rounding + 0.05 * pose.smile) * self.mouth_w
            d[idx, 1] += 0.30 * jaw - 0.06 * pose.smile * self.mouth_w
        # blinks: the upper lid comes down to the lower one
        for (upper, lower, _, _), crease, gap in zip(EYES, CREASES, self._eye_gap):
            d[upper, 1] += pose.blink * gap * 0.85
            d[crease, 1] += pose.blink * gap * 0.45
            d[lower, 1] -= pose.blink * gap * 0.1
        d[BROWS, 1] -= pose.brow * 0.018 * self.face_h
        iris_r = 0.025 * self.face_h
        d[IRISES, 0] += pose.gaze[0] * iris_r * 0.5
        d[IRISES, 1] += pose.gaze[1] * iris_r * 0.3
        # head sway: a small rigid motion of the face, fading to zero at the ROI border
        dx, dy, roll = pose.head
        if dx or dy or roll:
            pivot = lm[CHIN] + np.array([0.0, 0.25 * self.face_h])
            a = math.radians(roll)
            R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            rel = lm - pivot
            d[: self.n_lm] += rel @ R.T - rel + np.array([dx, dy]) * self.face_h
        return d

    def render(self, pose: Pose, out: np.ndarray | None = None) -> np.ndarray:
        """The portrait warped to `pose`, written into `out` (a copy of the base frame) when given."""
        frame = out if out is not None else self.image.copy()
        x0, y0, x1, y1 = self.roi
        rh, rw = y1 - y0, x1 - x0
        d = self.displacement(pose).astype(np.float32)
        hh, hw = self.half
        D = np.ascontiguousarray((self.interp @ d).astype(np.float32).reshape(hh, hw, 2))
        # backward map with one fixed-point step: src = p - D(p - D(p)) (on the half grid, then upsampled)
        hx = self.hgrid_x - 0.5 * D[..., 0]
        hy = self.hgrid_y - 0.5 * D[..., 1]
        D2 = cv2.remap(D, hx, hy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        D2 = cv2.resize(D2, (hw * 2, hh * 2), interpolation=cv2.INTER_LINEAR)[:rh, :rw]
        mx = np.subtract(self.grid_x, D2[..., 0])
        my = np.subtract(self.grid_y, D2[..., 1])
        warped = cv2.remap(self.roi_src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._paint_mouth(warped, d[: self.n_lm] + (self.lm - np.array([x0, y0])), pose)
        frame[y0:y1, x0:x1] = warped
        return frame

    def _paint_mouth(self, roi: np.ndarray, pts: np.ndarray, pose: Pose) -> None:
        """Fill the opened lips with the mouth cavity and a band of upper teeth (anti-aliased)."""
        loop = pts[INNER_LOOP]
        gap = float(np.max(pts[LOWER_LIP_IN, 1] - pts[UPPER_LIP_IN, 1]))
        if gap < 1.5 or gap <= self._gap0 + 1.0:  # not opened beyond the photo: leave the lips as they are
            return
        x0, y0 = np.floor(loop.min(0)).astype(int) - 2
        x1, y1 = np.ceil(loop.max(0)).astype(int) + 3
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(roi.shape[1], x1), min(roi.shape[0], y1)
        if x1 <= x0 or y1 <= y0:
            return
        sub = roi[y0:y1, x0:x1].astype(np.float32)
        S = 4  # sub-pixel precision for fillPoly
        mask = np.zeros(sub.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round((loop - [x0, y0]) * S).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        teeth = np.zeros_like(mask)
        band = min(0.42 * gap, 0.11 * self.mouth_w)
        upper = pts[[78] + UPPER_LIP_IN + [308]] - [x0, y0]
        poly = np.concatenate([upper, (upper + [0, band])[::-1]])
        cv2.fillPoly(teeth, [np.round(poly * S).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        m = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32)[..., None] / 255.0
        t = (cv2.GaussianBlur(teeth, (3, 3), 0).astype(np.float32)[..., None] / 255.0) * m
        yy = np.linspace(0, 1, sub.shape[0], dtype=np.float32)[:, None, None]
        cavity = self.cavity * (0.6 + 0.7 * yy)  # darkest under the upper teeth, lighter towards the tongue
        if self.patch is None:
            fill = cavity * (1 - t) + self.teeth * t * 0.92
        else:
            fill = cavity * np.ones_like(sub)
        out = sub * (1 - m) + fill * m
        if self.patch is not None:  # the photo's own teeth ride on the upper lip
            (px, py), pix, pm = self.patch
            rx, ry = self.roi[0], self.roi[1]
            up = pts[UPPER_LIP_IN] - (self.lm[UPPER_LIP_IN] - [rx, ry])
            ox = int(round(px - rx + float(up[:, 0].mean()))) - x0
            oy = int(round(py - ry + float(up[:, 1].mean()))) - y0
            ph, pw = pix.shape[:2]
            a0, b0 = max(0, oy), max(0, ox)
            a1, b1 = min(out.shape[0], oy + ph), min(out.shape[1], ox + pw)
            if a1 > a0 and b1 > b0:
                pm_ = pm[a0 - oy : a1 - oy, b0 - ox : b1 - ox] * m[a0:a1, b0:b1]
                out[a0:a1, b0:b1] = out[a0:a1, b0:b1] * (1 - pm_) + pix[a0 - oy : a1 - oy, b0 - ox : b1 - ox] * pm_
        roi[y0:y1, x0:x1] = out.astype(np.uint8)
