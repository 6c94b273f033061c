"""Virtual try-on, geometric stage: put a catalog top onto a person photo by body keypoints.

This is the *geometric* stage of classic try-on pipelines (VITON-style "warp, then composite"),
honestly labelled: no neural refinement, no new pixels are invented. Steps:

1. Person: mediapipe pose (33 landmarks) for shoulders, hips, elbows, wrists, plus selfie
   segmentation for the body silhouette.
2. Garment: the product photo's foreground (the same border-colour mask the colour code uses)
   and keypoints read off that mask: neckline, shoulder seams, hem corners.
3. Warp: a thin-plate spline through matching keypoints (garment -> body), solved in numpy and
   evaluated on a coarse grid, then `cv2.remap`.
4. Composite: clip to the (slightly dilated) body, keep forearms, hands and the head in front
   (occlusion), and multiply in the person's own shading so folds and light survive.

`TryOnBackend` is the seam where a diffusion try-on model can plug in later; the keypoint error
(`keypoint_error`) is measured on the *output*: keypoints re-read from the warped garment's mask
compared with where the body says they belong, divided by the torso length.
"""

from __future__ import annotations

import time
from typing import Protocol

import cv2
import numpy as np
from PIL import Image
from pydantic import BaseModel

from shopmind.errors import BadInput

WORK_SIDE = 900  # person photos are processed at most this tall/wide
L_SH, R_SH, L_EL, R_EL, L_WR, R_WR, L_HIP, R_HIP, NOSE = 11, 12, 13, 14, 15, 16, 23, 24, 0


class TryOnResult(BaseModel):
    width: int
    height: int
    keypoint_error: dict[str, float]  # shoulder, hip, mean: px / torso length
    seconds: float
    backend: str
    stage: str = "geometric (keypoint thin-plate-spline warp + occlusion + shading); no neural refinement"


class TryOnBackend(Protocol):
    """Anything that dresses `person` in `garment` (RGB images) and reports how well it fits."""

    name: str

    def try_on(self, person: Image.Image, garment: Image.Image) -> tuple[Image.Image, TryOnResult]: ...


# -- thin-plate spline -----------------------------------------------------------------------------
def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        k = r2 * np.log(r2)
    return np.nan_to_num(k)


class TPS:
    """2-D thin-plate spline mapping `src` control points exactly onto `dst` (with light regularisation)."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, reg: float = 1e-3) -> None:
        n = len(src)
        K = _tps_kernel(((src[:, None, :] - src[None, :, :]) ** 2).sum(-1)) + reg * np.eye(n)
        P = np.hstack([np.ones((n, 1)), src])
        A = np.zeros((n + 3, n + 3))
        A[:n, :n], A[:n, n:], A[n:, :n] = K, P, P.T
        b = np.zeros((n + 3, 2))
        b[:n] = dst
        self.src = src
        self.coef = np.linalg.solve(A, b)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        U = _tps_kernel(((pts[:, None, :] - self.src[None, :, :]) ** 2).sum(-1))
        n = len(self.src)
        return U @ self.coef[:n] + self.coef[n] + pts @ self.coef[n + 1 :]


# -- garment keypoints from its mask ----------------------------------------------------------------
def garment_keypoints(mask: np.ndarray) -> dict[str, np.ndarray]:
    """Neck, shoulder seams and hem corners of an upper-body garment laid flat (from its silhouette)."""
    ys, xs = np.nonzero(mask)
    if ys.size < 100:
        raise BadInput("the product photo shows no garment (empty foreground)")
    y0, y1 = ys.min(), ys.max()
    h = y1 - y0
    cx = float(np.median(xs))

    def row_span(y: float) -> tuple[float, float]:
        r = np.nonzero(mask[int(np.clip(y, 0, mask.shape[0] - 1))])[0]
        if r.size == 0:
            return cx - 1, cx + 1
        # the run of columns that contains the garment's centre (ignores sleeves hanging apart)
        runs = np.split(r, np.nonzero(np.diff(r) > 1)[0] + 1)
        best = min(runs, key=lambda run: 0 if run[0] <= cx <= run[-1] else min(abs(run[0] - cx), abs(run[-1] - cx)))
        return float(best[0]), float(best[-1])

    hem_y = y1 - 0.03 * h
    hl, hr = row_span(hem_y)
    mid_l, mid_r = row_span(y0 + 0.55 * h)
    left, right = max(hl, mid_l), min(hr, mid_r)  # torso edges, sleeves excluded
    if right - left < 0.15 * (xs.max() - xs.min()):
        left, right = hl, hr
    sh_y = y0 + 0.09 * h
    return {
        "neck": np.array([cx, float(y0)]),
        "shoulders": np.array([[left, sh_y], [right, sh_y]]),
        "hips": np.array([[hl, hem_y], [hr, hem_y]]),
    }


# -- person ------------------------------------------------------------------------------------------
def person_pose(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(33×2 pose landmarks in px, 33 visibilities, body mask float 0..1) for one person photo."""
    from shopmind.anchor.mp import solutions

    sol = solutions()
    with sol.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        res = pose.process(rgb)
    if res.pose_landmarks is None:
        raise BadInput("no person found in the photo; use a front-facing photo showing the upper body")
    h, w = rgb.shape[:2]
    lm = np.array([(p.x * w, p.y * h) for p in res.pose_landmarks.landmark])
    vis = np.array([p.visibility for p in res.pose_landmarks.landmark])
    with sol.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        mask = seg.process(rgb).segmentation_mask
    return lm, vis, np.clip(mask, 0, 1).astype(np.float32)


def body_targets(lm: np.ndarray) -> dict[str, np.ndarray]:
    """Where the garment's keypoints belong on this body (the shoulder seam sits outside the joint)."""
    ls, rs, lh, rh = lm[L_SH], lm[R_SH], lm[L_HIP], lm[R_HIP]
    # image-left is the person's right shoulder
    sh = np.array([rs, ls]) if rs[0] < ls[0] else np.array([ls, rs])
    hp = np.array([rh, lh]) if rh[0] < lh[0] else np.array([lh, rh])
    torso = float(np.linalg.norm(sh.mean(0) - hp.mean(0)))
    sw = sh[1] - sh[0]
    shoulders = np.array([sh[0] - 0.08 * sw - [0, 0.04 * torso], sh[1] + 0.08 * sw - [0, 0.04 * torso]])
    hw = hp[1] - hp[0]
    hips = np.array([hp[0] - 0.25 * hw + [0, 0.12 * torso], hp[1] + 0.25 * hw + [0, 0.12 * torso]])
    neck = sh.mean(0) - [0, 0.10 * torso]
    return {"neck": neck, "shoulders": shoulders, "hips": hips, "torso": np.array([torso])}


def _solid(mask: np.ndarray) -> np.ndarray:
    """The garment silhouette with its holes filled (a white shirt on a white backdrop leaves holes)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros(mask.shape, np.uint8)
    big = [c for c in contours if cv2.contourArea(c) >= 0.02 * mask.size]
    cv2.drawContours(out, big or contours, -1, 1, thickness=-1)
    return out


def _capsule(mask: np.ndarray, a: np.ndarray, b: np.ndarray, width: float) -> None:
    cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, max(1, int(width)), cv2.LINE_AA)


class GeometricTryOn:
    """The default backend: keypoint TPS warp + occlusion + shading (see the module docstring)."""

    name = "geometric"

    def try_on(self, person: Image.Image, garment: Image.Image) -> tuple[Image.Image, TryOnResult]:
        from shopmind.media.layout import foreground_mask

        t0 = time.perf_counter()
        p = person.convert("RGB")
        s = min(1.0, WORK_SIDE / max(p.size))
        if s < 1:
            p = p.resize((int(p.width * s), int(p.height * s)), Image.LANCZOS)
        rgb = np.asarray(p).copy()
        H, W = rgb.shape[:2]
        lm, vis, body = person_pose(rgb)
        if min(vis[[L_SH, R_SH]]) < 0.5:
            raise BadInput("the person's shoulders are not visible; use an upper-body, front-facing photo")
        g = garment.convert("RGB")
        gs = min(1.0, 700 / max(g.size))
        if gs < 1:
            g = g.resize((int(g.width * gs), int(g.height * gs)), Image.LANCZOS)
        garr = np.asarray(g)
        gmask = _solid(foreground_mask(g).astype(np.uint8))
        gk = garment_keypoints(gmask)
        tk = body_targets(lm)
        torso = float(tk["torso"][0])
        src_pts = np.vstack([gk["neck"], gk["shoulders"], gk["hips"], gk["shoulders"].mean(0, keepdims=True) * 0.5 + gk["hips"].mean(0, keepdims=True) * 0.5])
        dst_pts = np.vstack([tk["neck"], tk["shoulders"], tk["hips"], tk["shoulders"].mean(0, keepdims=True) * 0.5 + tk["hips"].mean(0, keepdims=True) * 0.5])
        # backward map (person px -> garment px) on a coarse grid, then upsampled
        tps = TPS(dst_pts, src_pts)
        step = 8
        gy, gx = np.mgrid[0 : H + step : step, 0 : W + step : step]
        grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
        mapped = tps(grid).reshape(gy.shape + (2,)).astype(np.float32)
        full = cv2.resize(mapped, (gx.shape[1] * step, gx.shape[0] * step), interpolation=cv2.INTER_LINEAR)[:H, :W]
        warped = cv2.remap(garr, full[..., 0], full[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        wmask = cv2.remap(gmask.astype(np.float32), full[..., 0], full[..., 1], cv2.INTER_LINEAR, borderValue=0)
        # occlusion: keep the garment on (a slightly grown) body; forearms, hands and head stay in front
        grown = cv2.dilate((body > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
        front = np.zeros((H, W), np.uint8)
        arm_w = 0.16 * float(np.linalg.norm(lm[L_SH] - lm[R_SH]))
        for el, wr in ((L_EL, L_WR), (R_EL, R_WR)):
            if vis[el] > 0.5 and vis[wr] > 0.5:
                _capsule(front, lm[el], lm[wr], arm_w)
                cv2.circle(front, tuple(int(v) for v in lm[wr]), int(arm_w * 0.9), 1, -1)
        head_y = int(tk["neck"][1] - 0.02 * torso)
        front[: max(0, head_y)] = 1
        front = front.astype(bool) & (body > 0.5)
        alpha = np.clip(wmask, 0, 1) * grown * (~front)
        alpha = cv2.GaussianBlur(alpha.astype(np.float32), (5, 5), 0)[..., None]
        # shading: the person's own light and folds, as a luminance ratio
        # (band-passed so the old garment's print does not show through, only its folds)
        lum = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) + 1
        ratio = np.clip(cv2.GaussianBlur(lum, (0, 0), 8) / (cv2.GaussianBlur(lum, (0, 0), 24) + 1e-3), 0.9, 1.08)
        # folds are gentle; a printed shirt underneath varies a lot: weaken the shading as the variation grows
        inside = alpha[..., 0] > 0.5
        spread = float(ratio[inside].std()) if inside.any() else 0.0
        strength = float(np.clip((0.045 - spread) / 0.02, 0.0, 1.0))  # plain tees ~0.02, printed ones > 0.045
        shade = (1.0 + strength * (ratio - 1.0))[..., None]
        out = rgb * (1 - alpha) + np.clip(warped * shade, 0, 255) * alpha
        result = Image.fromarray(out.astype(np.uint8))
        # measured on the output: keypoints re-read from the composited garment's silhouette
        err = self._keypoint_error((alpha[..., 0] > 0.5).astype(np.uint8), tk, torso)
        return result, TryOnResult(width=W, height=H, keypoint_error=err, seconds=round(time.perf_counter() - t0, 3),
                                   backend=self.name)

    @staticmethod
    def _keypoint_error(mask: np.ndarray, targets: dict[str, np.ndarray], torso: float) -> dict[str, float]:
        try:
            got = garment_keypoints(mask)
        except BadInput:
            return {"shoulder": 1.0, "hip": 1.0, "mean": 1.0}
        sh = float(np.linalg.norm(got["shoulders"] - targets["shoulders"], axis=1).mean() / torso)
        hp = float(np.linalg.norm(got["hips"] - targets["hips"], axis=1).mean() / torso)
        return {"shoulder": round(sh, 4), "hip": round(hp, 4), "mean": round((sh + hp) / 2, 4)}


BACKENDS: dict[str, type] = {"geometric": GeometricTryOn}


def try_on(person: Image.Image, garment: Image.Image, backend: str = "geometric") -> tuple[Image.Image, TryOnResult]:
    """Dress `person` in `garment` with the named backend."""
    if backend not in BACKENDS:
        raise BadInput(f"unknown try-on backend {backend!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[backend]().try_on(person, garment)
