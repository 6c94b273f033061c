from PIL import Image, ImageDraw

from shopmind.understand.colours import DESCRIPTOR_DIM, analyse_colours


def _product(color):
    img = Image.new("RGB", (120, 120), (250, 250, 250))
    ImageDraw.Draw(img).rectangle([30, 20, 90, 110], fill=color)
    return img


def test_named_dominant_colour_ignores_background():
    for rgb, en, zh in [((200, 25, 35), "Red", "红色"), ((30, 80, 210), "Blue", "蓝色"), ((15, 15, 15), "Black", "黑色")]:
        named, desc = analyse_colours(_product(rgb))
        assert named[0].name_en == en and named[0].name_zh == zh
        assert named[0].share > 0.8
        assert desc.shape == (DESCRIPTOR_DIM,)
