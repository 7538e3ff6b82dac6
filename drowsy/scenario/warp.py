"""Moving a real face by its face-mesh landmarks: head rotation (yaw, pitch) and an opening jaw,
rendered by a piecewise-affine warp over a Delaunay triangulation of the landmarks plus a frame
of fixed anchor points, so the background around the head stays put.

The warp is computed backward and vectorised: every output pixel is labelled with the triangle
it falls in, and that triangle's affine map says where to sample the portrait.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

# Inner lip contour of the face mesh (upper inner lip left to right, then lower back).
INNER_LIPS = (
    78,
    191,
    80,
    81,
    82,
    13,
    312,
    311,
    310,
    415,
    308,
    324,
    318,
    402,
    317,
    14,
    87,
    178,
    88,
    95,
)
UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNERS = (78, 308)


@dataclass(frozen=True)
class FaceMesh2D:
    """A portrait with its landmarks and the triangulation used to warp it."""

    image: np.ndarray
    points: np.ndarray  # (468, 3) x, y in pixels, z relative depth (pixels)
    anchors: np.ndarray  # (A, 2) fixed points
    triangles: np.ndarray  # (T, 3) indices into points + anchors

    @staticmethod
    def build(image: np.ndarray, landmarks: np.ndarray) -> FaceMesh2D:
        pts = landmarks[:468].astype(np.float64)
        h, w = image.shape[:2]
        x0, y0 = pts[:, :2].min(axis=0)
        x1, y1 = pts[:, :2].max(axis=0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rx, ry = (x1 - x0) * 0.85, (y1 - y0) * 0.85
        ring = [
            (cx + rx * np.cos(a), cy + ry * np.sin(a))
            for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ]
        border = [
            (0, 0),
            (w - 1, 0),
            (w - 1, h - 1),
            (0, h - 1),
            (w / 2, 0),
            (w - 1, h / 2),
            (w / 2, h - 1),
            (0, h / 2),
        ]
        anchors = np.clip(np.array(ring + border, np.float64), 0, [w - 1, h - 1])  # ring first
        tri = Delaunay(np.vstack([pts[:, :2], anchors])).simplices
        return FaceMesh2D(image, pts, anchors, tri.astype(np.int32))


def _rotate(points: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Rotate the 3D landmarks about the head's centre; orthographic projection back to 2D.
    yaw > 0 turns the face toward the image's right, pitch > 0 tilts it up."""
    c = points.mean(axis=0)
    c[2] = points[:, 2].max() + 0.35 * np.ptp(points[:, 0])  # pivot behind the face
    p = points - c
    y, t = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(t), np.sin(t)], [0, -np.sin(t), np.cos(t)]])
    return (p @ (rx @ ry).T + c)[:, :2]


def _open_jaw(points2d: np.ndarray, src: np.ndarray, opening: float) -> np.ndarray:
    """Move the lower lip and jaw down by ``opening`` mouth widths, fading to zero at the
    mouth corners' height and beyond the jaw line."""
    out = points2d.copy()
    left, right = src[MOUTH_CORNERS[0], :2], src[MOUTH_CORNERS[1], :2]
    width = np.hypot(*(right - left))
    mouth_y = (left[1] + right[1]) / 2
    chin_y = src[:, 1].max()
    cx = (left[0] + right[0]) / 2
    dy = opening * width
    # the whole jaw drops: full displacement a little below the corners' height
    below = np.clip((src[:, 1] - mouth_y) / max(1.0, 0.06 * (chin_y - mouth_y)), 0, 1)
    lateral = np.clip(1.0 - np.abs(src[:, 0] - cx) / (1.6 * width), 0, 1)
    weight = below * lateral
    weight[list(UPPER_INNER)] = 0.0
    out[:, 1] += dy * weight
    return out


def render_face(
    mesh: FaceMesh2D, yaw: float = 0.0, pitch: float = 0.0, mouth: float = 0.0
) -> np.ndarray:
    """The portrait with the head turned by (yaw, pitch) degrees and the mouth opened by
    ``mouth`` mouth widths (0 closed, ~0.6 a yawn)."""
    src_pts = np.vstack([mesh.points[:, :2], mesh.anchors])
    dst = _rotate(mesh.points, yaw, pitch)
    if mouth > 0:
        dst = _open_jaw(dst, mesh.points, mouth)
    if yaw == 0 and pitch == 0 and mouth <= 0:
        return mesh.image.copy()
    dst_pts = np.vstack([dst, mesh.anchors])
    # Only the box inside the ring of fixed anchors moves; outside it the warp is the identity.
    ring = mesh.anchors[:-8]
    x0, y0 = np.floor(ring.min(axis=0)).astype(int)
    x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 1
    label = np.full((y1 - y0, x1 - x0), -1, np.int32)
    shift = np.array([x0, y0])
    mats = np.zeros((len(mesh.triangles), 2, 3), np.float64)
    for i, tri in enumerate(mesh.triangles):
        d = dst_pts[tri]
        cv2.fillConvexPoly(label, np.round(d - shift).astype(np.int32), i)
        mats[i] = cv2.getAffineTransform(d.astype(np.float32), src_pts[tri].astype(np.float32))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    m = mats[np.maximum(label, 0)].astype(np.float32)  # (bh, bw, 2, 3), dst -> src
    map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
    map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
    outside = label < 0
    map_x[outside] = xs[outside]
    map_y[outside] = ys[outside]
    out = mesh.image.copy()
    out[y0:y1, x0:x1] = cv2.remap(
        mesh.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if mouth > 0.05:
        out = _paint_mouth(out, dst, mouth)
    return out


def _paint_mouth(image: np.ndarray, dst: np.ndarray, mouth: float) -> np.ndarray:
    """An open mouth between the warped inner lips: a dark cavity shading to red at the edges,
    upper teeth along the top, and a pink lower lip along the bottom edge."""
    h, w = image.shape[:2]
    poly = np.round(dst[list(INNER_LIPS)]).astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [poly], 255)
    width = float(np.hypot(*(dst[MOUTH_CORNERS[1]] - dst[MOUTH_CORNERS[0]])))
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(width * 0.08)))
    edge = cv2.GaussianBlur(mask, (0, 0), max(1.0, width * 0.04)) / 255.0
    core = cv2.GaussianBlur(inner, (0, 0), max(1.0, width * 0.06)) / 255.0
    out = image.astype(np.float32)
    red = np.array((60, 50, 150), np.float32)  # BGR
    dark = np.array((25, 15, 35), np.float32)
    out = out * (1 - edge[..., None]) + red * edge[..., None]
    out = out * (1 - core[..., None]) + dark * core[..., None]
    top = np.round(dst[list(UPPER_INNER)]).astype(np.int32)
    teeth = max(1, int(width * 0.12 * min(1.0, mouth * 2)))
    white = (215, 225, 235)
    cv2.polylines(out, [top + np.array([0, teeth // 2])], False, white, teeth, cv2.LINE_AA)
    lower = np.round(dst[list(LOWER_INNER)]).astype(np.int32)
    lip = max(1, int(width * 0.1))
    cv2.polylines(out, [lower + np.array([0, lip // 2])], False, (120, 120, 200), lip, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)
