"""Synthetic shipping labels with planted personal data, to measure redaction recall honestly.

Why synthetic: real labels with real buyers' data must not be collected; rendering our own with
known ground-truth boxes lets us measure whether every planted phone/ID/address gets blurred.
Values are random but valid (ID checksums per GB 11643, mobile prefixes 13x-19x).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from shopmind.media.fonts import font
from shopmind.media.pii import id_check_char

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
_PROVINCES = [("浙江省", "杭州市", ["西湖区", "滨江区", "余杭区"]), ("广东省", "深圳市", ["南山区", "福田区"]),
              ("江苏省", "南京市", ["鼓楼区", "玄武区"]), ("四川省", "成都市", ["武侯区", "锦江区"]),
              ("湖北省", "武汉市", ["洪山区", "江汉区"])]
_ROADS = ["文三路", "科技园路", "中山路", "人民路", "解放大道", "建设街", "学院路"]
_REGION_CODES = ["330106", "440305", "320106", "510107", "420111", "110105"]
_ITEMS = ["纯棉短袖T恤 白色 L", "牛仔半身裙 蓝色 M", "运动鞋 黑色 42", "羊毛围巾 灰色", "真丝连衣裙 红色 S"]


@dataclass
class Planted:
    kind: str
    value: str
    box: list[float]


def random_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"


def random_id(rng: random.Random) -> str:
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = rng.choice(_REGION_CODES) + birth + f"{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


def random_address(rng: random.Random) -> str:
    prov, city, districts = rng.choice(_PROVINCES)
    return f"{prov}{city}{rng.choice(districts)}{rng.choice(_ROADS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"


def _fmt_phone(phone: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return phone
    sep = " " if style == 1 else "-"
    return f"{phone[:3]}{sep}{phone[3:7]}{sep}{phone[7:]}"


def render_label(seed: int, width: int = 900) -> tuple[Image.Image, list[Planted]]:
    """One label image and the planted PII with exact pixel boxes of each value."""
    rng = random.Random(seed)
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))
    fields: list[tuple[str, str, str | None]] = [
        ("快递面单 EXPRESS", "", None),
        ("收件人：", name, None),
        ("电话：", _fmt_phone(random_phone(rng), rng), "phone"),
        ("地址：", random_address(rng), "address"),
        ("身份证：", random_id(rng), "id_number"),
        ("运单号：", rng.choice(["SF", "JD", "YT"]) + "".join(str(rng.randint(0, 9)) for _ in range(12)), "waybill"),
        ("订单号：", "".join(str(rng.randint(0, 9)) for _ in range(18)), "order_number"),
        ("寄件人电话：", _fmt_phone(random_phone(rng), rng), "phone"),
        ("商品：", rng.choice(_ITEMS), None),
        ("重量：", f"{rng.randint(1, 30) / 10:.1f}kg  件数：1", None),
    ]
    if rng.random() < 0.5:
        fields.append(("邮箱：", f"user{rng.randint(10, 9999)}@example.com", "email"))
    size = rng.choice([30, 34, 38])
    f = font(size)
    line_h = int(size * 1.9)
    img = Image.new("RGB", (width, 60 + line_h * len(fields)), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.rectangle([8, 8, width - 8, img.height - 8], outline=(30, 30, 30), width=3)
    planted: list[Planted] = []
    y = 30
    for label, value, kind in fields:
        x = 30
        draw.text((x, y), label, font=f, fill=(20, 20, 20))
        x += draw.textlength(label, font=f)
        if value:
            draw.text((x, y), value, font=f, fill=(20, 20, 20))
            if kind:
                l, t, r, b = draw.textbbox((x, y), value, font=f)
                planted.append(Planted(kind, value, [float(l), float(t), float(r), float(b)]))
        y += line_h
    return img, planted


def coverage(planted_box: list[float], boxes: list[list[float]]) -> float:
    """Fraction of the planted box's area covered by the union of `boxes` (pixel raster)."""
    x1, y1, x2, y2 = (int(round(v)) for v in planted_box)
    w, h = max(1, x2 - x1), max(1, y2 - y1)
    mask = np.zeros((h, w), dtype=bool)
    for bx1, by1, bx2, by2 in boxes:
        ix1, iy1 = max(0, int(np.floor(bx1)) - x1), max(0, int(np.floor(by1)) - y1)
        ix2, iy2 = min(w, int(np.ceil(bx2)) - x1), min(h, int(np.ceil(by2)) - y1)
        if ix2 > ix1 and iy2 > iy1:
            mask[iy1:iy2, ix1:ix2] = True
    return float(mask.mean())
