"""Makes Qt's SVG output render the same in other tools (rsvg, browsers, Inkscape, ImageMagick).

``QSvgGenerator`` writes a plot's curve as its data-space path inside a group scaled to the
screen (``transform="matrix(21,0,0,-258,...)"``) and keeps the line thin with SVG Tiny's
``vector-effect="non-scaling-stroke"``. Renderers that ignore that attribute scale the
1-px stroke by the same factor, and a curve becomes a solid band. Here the group's matrix
is applied to the coordinates themselves and the group keeps only the identity, so the
stroke is 1 px everywhere. Qt-free text processing.
"""

from __future__ import annotations

import re

_GROUP = re.compile(r'(<g\b[^>]*?transform="matrix\(([^)]*)\)"[^>]*>)(.*?)(</g>)', re.S)
_NUMBER_PAIR = re.compile(r"(-?[\d.]+(?:e[-+]?\d+)?),(-?[\d.]+(?:e[-+]?\d+)?)", re.I)
_PATH_D = re.compile(r'(<path\b[^>]*?\bd=")([^"]*)(")')
_POINTS = re.compile(r'(<(?:polyline|polygon)\b[^>]*?\bpoints=")([^"]*)(")')
_RECT = re.compile(r'<rect\b([^>]*?)/>')
_UNBAKED = re.compile(r"<(?:text|image|ellipse|circle|line)\b")


def _matrix(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _map_pairs(text: str, m: tuple[float, ...]) -> str:
    a, b, c, d, e, f = m

    def one(match: re.Match[str]) -> str:
        x, y = float(match.group(1)), float(match.group(2))
        return f"{a * x + c * y + e:.6g},{b * x + d * y + f:.6g}"

    return _NUMBER_PAIR.sub(one, text)


def _map_rect(attrs: str, m: tuple[float, ...]) -> str:
    values = {k: float(v) for k, v in re.findall(r'\b(x|y|width|height)="(-?[\d.e+-]+)"', attrs)}
    x, y = values.get("x", 0.0), values.get("y", 0.0)
    w, h = values.get("width", 0.0), values.get("height", 0.0)
    a, b, c, d, e, f = m
    x0, y0 = a * x + c * y + e, b * x + d * y + f
    x1, y1 = a * (x + w) + c * (y + h) + e, b * (x + w) + d * (y + h) + f
    rest = re.sub(r'\s\b(x|y|width|height)="[^"]*"', "", attrs)
    return (f'<rect x="{min(x0, x1):.6g}" y="{min(y0, y1):.6g}" width="{abs(x1 - x0):.6g}" '
            f'height="{abs(y1 - y0):.6g}"{rest}/>')


def bake_transforms(svg: str) -> str:
    """``svg`` with every scaled group's non-scaling-stroke shapes in screen coordinates."""

    def group(match: re.Match[str]) -> str:
        head, matrix_text, body, tail = match.groups()
        if "non-scaling-stroke" not in body:
            return match.group(0)
        m = _matrix(matrix_text)
        if m[1] or m[2] or _UNBAKED.search(body):  # rotated, or shapes not handled here: left alone
            return match.group(0)
        body = _PATH_D.sub(lambda p: p.group(1) + _map_pairs(p.group(2), m) + p.group(3), body)
        body = _POINTS.sub(lambda p: p.group(1) + _map_pairs(p.group(2), m) + p.group(3), body)
        body = _RECT.sub(lambda r: _map_rect(r.group(1), m), body)
        return head.replace(f"matrix({matrix_text})", "matrix(1,0,0,1,0,0)") + body + tail

    return _GROUP.sub(group, svg)
