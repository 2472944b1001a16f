"""Draw's server-drawn pictures: the attribution map's colours and outline, the bars."""

import numpy as np

from dashboard.pictures import attribution_picture, probability_bars


def test_attribution_picture_colours_sign_and_outlines_the_ink():
    attribution = np.zeros((28, 28), dtype=np.float32)
    attribution[:, :14] = 1.0   # left half pushes toward the class
    attribution[:, 14:] = -0.5  # right half pushes away, half as hard
    ink = np.zeros((28, 28), dtype=np.float32)
    ink[10:18, 10:18] = 1.0
    picture = attribution_picture(attribution, ink, size=168)
    assert picture.shape == (168, 168, 3) and picture.dtype == np.uint8
    red, blue = picture[2, 2].astype(int), picture[2, -3].astype(int)
    assert red[0] > red[2] + 50 and red[0] > red[1] + 50  # red toward
    assert blue[2] > blue[0] + 50 and blue[2] > blue[1]    # blue away
    edge = picture[84, 60].astype(int)  # the ink square's left edge, 10 * 6 px in
    inside = picture[84, 70].astype(int)
    assert abs(edge[0] - edge[2]) < abs(inside[0] - inside[2])  # greyed, not the map's red


def test_a_shared_limit_pales_a_weaker_map():
    weak = np.full((16, 16), 0.1, dtype=np.float32)
    own = attribution_picture(weak, np.zeros((16, 16)), size=64)
    shared = attribution_picture(weak, np.zeros((16, 16)), limit=1.0, size=64)
    assert own.shape == shared.shape == (64, 64, 3)
    assert int(shared[5, 5].min()) > int(own[5, 5].min())  # nearer white


def test_probability_bars_mark_the_most_probable_digit():
    probs = [0.01] * 10
    probs[7] = 0.91
    html = probability_bars(probs, height_px=100)
    assert html.count("title=") == 10 and "title='7: 91.0%'" in html
    assert "height:91px;background:#d62728" in html and html.count("#d62728") == 1
