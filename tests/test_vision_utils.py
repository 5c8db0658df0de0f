"""zeroin.vision.utils' drawing: torchvision's draw_bounding_boxes, draw_segmentation_masks
and draw_keypoints (torchvision is not installed: checked by properties of the pixels, by
the same Pillow ImageDraw calls made by hand, and the float arithmetic against torch)."""
import re
import warnings

import numpy as np
import pytest

import zeroin
from zeroin.vision.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks

Image = pytest.importorskip("PIL.Image")
from PIL import ImageDraw, ImageFont  # noqa: E402

RED, GREEN = (255, 0, 0), (0, 255, 0)


def _u8(h=20, w=30, seed=0, c=3):
    return np.random.default_rng(seed).integers(0, 256, (c, h, w), dtype=np.uint8)


def _by_hand(arr, draw_fn, mode=None):
    """Pillow's drawing of ``draw_fn(draw)`` on the uint8 (3, H, W) ``arr``, as (3, H, W)."""
    img = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)))
    draw_fn(ImageDraw.Draw(img, mode))
    return np.asarray(img).transpose(2, 0, 1)


# ---- draw_bounding_boxes ------------------------------------------------------------------

def test_boxes_border_has_the_colour_inside_and_outside_untouched():
    """torchvision.utils had make_grid / save_image only here: the box's border pixels
    (xmin..xmax, ymin..ymax, inclusive, ``width`` pixels inwards) take its colour."""
    img = np.zeros((3, 20, 30), np.uint8)
    boxes = zeroin.tensor([[2.0, 3.0, 10.0, 12.0], [15.7, 1.0, 25.2, 8.9]])  # truncated
    for width in (1, 2):
        out = draw_bounding_boxes(zeroin.tensor(img), boxes, colors=["red", GREEN],
                                  width=width).numpy()
        assert out.dtype == np.uint8 and out.shape == (3, 20, 30)
        for (x0, y0, x1, y1), col in (((2, 3, 10, 12), RED), ((15, 1, 25, 8), GREEN)):
            ring = np.zeros((20, 30), bool)
            ring[y0:y1 + 1, x0:x1 + 1] = True
            ring[y0 + width:y1 + 1 - width, x0 + width:x1 + 1 - width] = False
            assert (out[:, ring] == np.array(col)[:, None]).all()
            inner = out[:, y0 + width:y1 + 1 - width, x0 + width:x1 + 1 - width]
            assert not inner.any()                              # no fill: untouched
        covered = np.zeros((20, 30), bool)
        covered[3:13, 2:11] = covered[1:9, 15:26] = True
        assert not out[:, ~covered].any()


def test_boxes_are_pillows_rectangles_with_palette_fill_and_grayscale():
    """Default colours are torchvision's palette (i * [2**25 - 1, 2**15 - 1, 2**21 - 1]) %
    255: (0, 0, 0), (1, 127, 31), (2, 254, 62); ``fill`` draws with alpha 100 in RGBA."""
    arr = _u8()
    boxes = np.array([[1, 1, 12, 9], [5, 4, 20, 15], [18, 2, 28, 18]], np.float32)
    palette = [(0, 0, 0), (1, 127, 31), (2, 254, 62)]
    out = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), width=3).numpy()

    def boxes_by_hand(d, fill=False):
        for b, c in zip(boxes.astype(int).tolist(), palette):
            d.rectangle(b, width=3, outline=c, fill=c + (100,) if fill else None)
    np.testing.assert_array_equal(out, _by_hand(arr, boxes_by_hand))
    assert tuple(out[:, 4, 5]) == palette[1]                     # box 1's top-left corner
    filled = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), fill=True,
                                 width=3).numpy()
    np.testing.assert_array_equal(filled, _by_hand(arr, lambda d: boxes_by_hand(d, True),
                                                   "RGBA"))
    zero = np.zeros((3, 10, 10), np.uint8)
    inside = draw_bounding_boxes(zeroin.tensor(zero), zeroin.tensor([[0, 0, 9, 9]]),
                                 colors="#FF0000", fill=True).numpy()[:, 5, 5]
    assert tuple(inside) == (100, 0, 0)                  # 255 * 100 / 255 over black
    gray = arr[:1]
    got = draw_bounding_boxes(zeroin.tensor(gray), zeroin.tensor(boxes), colors="red")
    np.testing.assert_array_equal(got.numpy(), draw_bounding_boxes(
        zeroin.tensor(np.concatenate([gray] * 3)), zeroin.tensor(boxes), colors="red").numpy())


def test_boxes_labels_use_pillows_default_font_and_label_colours():
    arr = np.full((3, 40, 60), 200, np.uint8)
    boxes = [[2, 2, 50, 30], [10, 20, 58, 38]]
    font = ImageFont.load_default()
    out = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), labels=["cat", "dog"],
                              colors=["blue", RED], width=2).numpy()

    def by_hand(d, label_colors=None, fill_labels=False):
        for b, c, lab, i in zip(boxes, [(0, 0, 255), RED], ["cat", "dog"], range(2)):
            d.rectangle(b, width=2, outline=c)
            at = (b[0] + 3, b[1] + 3)
            if fill_labels:
                l, t, r, btm = d.textbbox(at, lab, font=font)
                d.rectangle((l - 1, t - 1, r + 1, btm + 1), fill=c)
            d.text(at, lab, fill=c if label_colors is None else label_colors[i], font=font)
    np.testing.assert_array_equal(out, _by_hand(arr, by_hand))
    text = out[:, 5:15, 5:20]
    assert (text[2].astype(int) - text[0] > 100).any()  # blue ink (antialiased glyphs)
    got = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), labels=["cat", "dog"],
                              colors=["blue", RED], width=2, fill_labels=True).numpy()
    np.testing.assert_array_equal(got, _by_hand(arr, lambda d: by_hand(
        d, [(0, 0, 0)] * 2, True)))                              # black text on the colour
    got = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), labels=["cat", "dog"],
                              colors=["blue", RED], width=2, label_colors="yellow").numpy()
    np.testing.assert_array_equal(got, _by_hand(arr, lambda d: by_hand(
        d, [(255, 255, 0)] * 2)))


def test_boxes_labels_with_a_truetype_font_file():
    """``font`` is a TrueType file, ``font_size`` its size (10 if not given), as
    torchvision's ImageFont.truetype; a label None is not written."""
    mpl = pytest.importorskip("matplotlib")
    import os
    path = os.path.join(mpl.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    if not os.path.exists(path):
        pytest.skip("no DejaVuSans.ttf in matplotlib's data")
    arr = np.zeros((3, 40, 60), np.uint8)
    boxes = [[1, 1, 55, 35], [30, 20, 50, 30]]
    for size in (None, 16):
        got = draw_bounding_boxes(zeroin.tensor(arr), zeroin.tensor(boxes), labels=["Ag", None],
                                  colors="white", font=path, font_size=size).numpy()
        font = ImageFont.truetype(path, size or 10)

        def by_hand(d):
            for b in boxes:
                d.rectangle(b, width=1, outline=(255, 255, 255))
            d.text((3, 3), "Ag", fill=(255, 255, 255), font=font)
        np.testing.assert_array_equal(got, _by_hand(arr, by_hand))
        assert got[:, 3:20, 3:20].any()


def test_boxes_on_a_float_image_go_through_uint8_as_torchvisions_to_dtype():
    """A float image in [0, 1]: to uint8 (x * 255.999, truncated), drawn, back with
    x * (1 / 255) in the image's dtype (torchvision v2's to_dtype; torch as the oracle)."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).random((3, 12, 16), dtype=np.float32)
    x[0, 0, 0], x[1, 0, 0] = 1.0, 0.0
    boxes = [[1, 1, 8, 9]]
    got = draw_bounding_boxes(zeroin.tensor(x), zeroin.tensor(boxes), colors=GREEN)
    u8 = torch.from_numpy(x).mul(255 + 1.0 - 1e-3).to(torch.uint8).numpy()
    drawn = _by_hand(u8, lambda d: d.rectangle(boxes[0], width=1, outline=GREEN))
    want = torch.from_numpy(drawn.copy()).to(torch.float32).mul_(1.0 / 255).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.numpy(), want)
    assert got.numpy()[1, 1, 1] == 1.0 and got.numpy()[0, 1, 1] == 0.0
    x64 = x.astype(np.float64)
    assert draw_bounding_boxes(zeroin.tensor(x64), zeroin.tensor(boxes)).dtype == np.float64


def test_rotated_boxes_dash_the_first_side():
    """(N, 8) boxes are torchvision's rotated boxes: the side from corner 1 to 2 dashed
    (5 on, 5 off), the others solid lines."""
    img = np.zeros((3, 30, 40), np.uint8)
    quad = [3, 5, 33, 5, 33, 25, 3, 25]                  # corners in order, axis-aligned
    out = draw_bounding_boxes(zeroin.tensor(img), zeroin.tensor([quad]), colors="red").numpy()
    red = (out == np.array(RED)[:, None, None]).all(axis=0)
    assert red[5:26, 33].all() and red[25, 3:34].all() and red[5:26, 3].all()
    top = red[5, 3:34]
    assert top[:5].all() and not top[7:10].any() and top[13:15].all()   # dashes and gaps
    assert not red[6:25, 4:33].any()


def test_draw_bounding_boxes_errors_and_warnings():
    img = zeroin.tensor(_u8())
    with pytest.raises(TypeError, match="draw_bounding_boxes: image should be a tensor"):
        draw_bounding_boxes(_u8(), zeroin.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="dtype must be uint8 or float.*int32"):
        draw_bounding_boxes(zeroin.tensor(_u8().astype(np.int32)), zeroin.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"not batches: got shape \(2, 3, 20, 30\)"):
        draw_bounding_boxes(zeroin.tensor(np.stack([_u8()] * 2)), zeroin.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="only grayscale and RGB.*got 2 channels"):
        draw_bounding_boxes(zeroin.tensor(_u8(c=2)), zeroin.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"\(xmin, ymin, xmax, ymax\) format; box 1 is "
                                         r"\[5.0, 0.0, 2.0, 4.0\]"):
        draw_bounding_boxes(img, zeroin.tensor([[0.0, 0, 1, 1], [5, 0, 2, 4]]))
    with pytest.raises(ValueError, match=r"boxes should be \(N, 4\).*got shape \(4,\)"):
        draw_bounding_boxes(img, zeroin.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"number of boxes \(1\) and labels \(2\) mismatch"):
        draw_bounding_boxes(img, zeroin.tensor([[0, 0, 1, 1]]), labels=["a", "b"])
    with pytest.raises(ValueError, match="equal or larger than the number of objects, but "
                                         "got 1 < 2"):
        draw_bounding_boxes(img, zeroin.tensor([[0, 0, 1, 1]] * 2), colors=["red"])
    with pytest.raises(ValueError, match="RGB triplet, but got \\(1, 2, 3, 4\\)"):
        draw_bounding_boxes(img, zeroin.tensor([[0, 0, 1, 1]]), colors=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="colors must be a tuple or a string"):
        draw_bounding_boxes(img, zeroin.tensor([[0, 0, 1, 1]]), colors=7)
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got values in \[-0.5, 1\]"):
        draw_bounding_boxes(zeroin.tensor([[[-0.5, 1.0]]] * 3), zeroin.tensor([[0, 0, 1, 0]]))
    with pytest.warns(UserWarning, match="boxes doesn't contain any box"):
        assert draw_bounding_boxes(img, zeroin.zeros(0, 4)) is img
    with pytest.warns(UserWarning, match="'font_size' will be ignored"):
        draw_bounding_boxes(img, zeroin.tensor([[0, 0, 1, 1]]), labels=["a"], font_size=20)


# ---- draw_segmentation_masks --------------------------------------------------------------

def _tv_masks(torch, image, masks, alpha, colors):
    """torchvision's blend, in torch: colours painted, overlaps black, then
    image * (1 - alpha) + painted * alpha, cast back to the image's dtype."""
    painted = image.clone()
    for m, c in zip(masks, colors):
        painted[:, m] = torch.tensor(c, dtype=image.dtype)[:, None]
    painted[:, masks.sum(dim=0) > 1] = 0
    return (image * (1 - alpha) + painted * alpha).to(image.dtype)


@pytest.mark.parametrize("alpha", [0.8, 0.3, 0.55, 1.0, 0.0])
def test_masks_blend_exactly_as_torchvisions_arithmetic(alpha):
    torch = pytest.importorskip("torch")
    arr = _u8(9, 11, seed=2)
    masks = np.random.default_rng(3).random((3, 9, 11)) < 0.4     # with overlaps
    palette = [(0, 0, 0), (1, 127, 31), (2, 254, 62)]
    got = draw_segmentation_masks(zeroin.tensor(arr), zeroin.tensor(masks), alpha=alpha)
    want = _tv_masks(torch, torch.from_numpy(arr), torch.from_numpy(masks), alpha, palette)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    untouched = ~masks.any(axis=0)
    exp = (arr.astype(np.float32) * np.float32(1 - alpha)
           + arr.astype(np.float32) * np.float32(alpha)).astype(np.uint8)
    np.testing.assert_array_equal(got.numpy()[:, untouched], exp[:, untouched])
    x = arr.astype(np.float32) / 255
    gotf = draw_segmentation_masks(zeroin.tensor(x), zeroin.tensor(masks), alpha=alpha,
                                   colors=["red", "#00FF00", (0, 0, 255)])
    wantf = _tv_masks(torch, torch.from_numpy(x), torch.from_numpy(masks), alpha,
                      [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)])
    assert gotf.dtype == np.float32
    np.testing.assert_array_equal(gotf.numpy(), wantf.numpy())


def test_one_mask_by_hand_and_overlaps_black():
    arr = np.full((3, 2, 3), 100, np.uint8)
    mask = np.array([[True, False, False], [False, False, True]])
    out = draw_segmentation_masks(zeroin.tensor(arr), zeroin.tensor(mask), alpha=0.5,
                                  colors="red").numpy()
    assert tuple(out[:, 0, 0]) == (177, 50, 50)          # 100 * 0.5 + 255 * 0.5 = 177.5
    assert tuple(out[:, 0, 1]) == (100, 100, 100)
    both = draw_segmentation_masks(zeroin.tensor(arr), zeroin.tensor(np.stack([mask, mask])),
                                   alpha=1.0, colors=[RED, GREEN]).numpy()
    assert tuple(both[:, 1, 2]) == (0, 0, 0) and tuple(both[:, 0, 1]) == (100, 100, 100)


def test_draw_segmentation_masks_errors_and_warnings():
    img = zeroin.tensor(_u8(4, 5))
    m = np.zeros((4, 5), bool)
    with pytest.raises(ValueError, match="pass an RGB image.*got 1 channels"):
        draw_segmentation_masks(zeroin.tensor(_u8(4, 5, c=1)), zeroin.tensor(m))
    with pytest.raises(ValueError, match="masks must be of dtype bool, got int64.*masks > "):
        draw_segmentation_masks(img, zeroin.tensor(m.astype(np.int64)))
    with pytest.raises(ValueError, match=r"same height and width, got image \(3, 4, 5\) and "
                                         r"masks \(1, 5, 4\)"):
        draw_segmentation_masks(img, zeroin.tensor(m.T))
    with pytest.raises(ValueError, match=r"masks must be of shape \(H, W\) or"):
        draw_segmentation_masks(img, zeroin.tensor(m[None, None]))
    with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\].*1.5"):
        draw_segmentation_masks(img, zeroin.tensor(m), alpha=1.5)
    with pytest.raises(ValueError, match="got 1 < 2"):
        draw_segmentation_masks(img, zeroin.tensor(np.stack([m, m])), colors=["red"])
    with pytest.warns(UserWarning, match="masks doesn't contain any mask"):
        assert draw_segmentation_masks(img, zeroin.tensor(np.zeros((0, 4, 5), bool))) is img


# ---- draw_keypoints -----------------------------------------------------------------------

def test_keypoints_are_pillows_discs_and_white_lines_with_visibility():
    """Each visible keypoint a disc of ``radius`` in ``colors``; each connected pair of
    visible keypoints a line in Pillow's default ink (white), as torchvision's."""
    arr = np.zeros((3, 30, 40), np.uint8)
    kp = np.array([[[5.6, 5.2], [20, 8], [30, 25]], [[10, 20], [3, 27], [36, 3]]])
    vis = np.array([[True, True, True], [True, False, True]])
    conn = [(0, 1), (1, 2)]
    out = draw_keypoints(zeroin.tensor(arr), zeroin.tensor(kp), connectivity=conn,
                         colors="blue", radius=3, width=2, visibility=zeroin.tensor(vis))

    def by_hand(d):
        for pts, v in zip(kp.astype(int).tolist(), vis.tolist()):
            for (x, y), s in zip(pts, v):
                if s:
                    d.ellipse([x - 3, y - 3, x + 3, y + 3], fill="blue", outline=None, width=0)
            for i, j in conn:
                if v[i] and v[j]:
                    d.line((tuple(pts[i]), tuple(pts[j])), width=2)
    np.testing.assert_array_equal(out.numpy(), _by_hand(arr, by_hand))
    o = out.numpy()
    assert tuple(o[:, 8, 20]) == (255, 255, 255)         # a line's pixel (drawn last)
    assert tuple(o[:, 5, 2]) == (0, 0, 255)              # the disc's left edge: x 5 - 3
    assert not o[:, 24:30, 0:7].any()                    # the hidden keypoint (3, 27)
    assert not o[:, 16, 16].any()                        # no line to a hidden keypoint
    squeezed = draw_keypoints(zeroin.tensor(arr), zeroin.tensor(kp), connectivity=conn,
                              colors="blue", radius=3, width=2,
                              visibility=zeroin.tensor(vis[..., None]))
    np.testing.assert_array_equal(squeezed.numpy(), o)   # (N, K, 1) taken, as torchvision
    plain = draw_keypoints(zeroin.tensor(arr), zeroin.tensor(kp), connectivity=conn,
                           visibility=zeroin.tensor(vis)).numpy()
    assert o[2, 0:6, 33:40].any() and not plain[:, 0:6, 33:40].any()  # None: no disc
    assert plain[:, 8, 20].all()                                       # but the lines
    np.testing.assert_array_equal(plain, _by_hand(arr, lambda d: [
        d.line((tuple(p[i]), tuple(p[j])), width=3) for p in kp[:1].astype(int).tolist()
        for i, j in conn] + [d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=None, outline=None,
                                       width=0) for x, y in kp.reshape(-1, 2).astype(int)]))
    x = arr.astype(np.float64) + 0.25
    gotf = draw_keypoints(zeroin.tensor(x), zeroin.tensor(kp), colors=(255, 0, 0))
    assert gotf.dtype == np.float64 and gotf.numpy()[0, 5, 5] == 1.0
    assert gotf.numpy()[1, 0, 0] == np.float64(63) * np.float64(1 / 255)  # 0.25 * 255.999


def test_draw_keypoints_errors():
    img = zeroin.tensor(_u8(10, 10))
    kp = zeroin.tensor(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"keypoints must be of shape \(num_instances, K, 2\)"):
        draw_keypoints(img, zeroin.tensor(np.zeros((3, 2))))
    with pytest.raises(ValueError, match=r"visibility must be of shape \(num_instances, K\) "
                                         r"= \(2, 3\).*got \(3, 2\)"):
        draw_keypoints(img, kp, visibility=zeroin.tensor(np.ones((3, 2), bool)))
    with pytest.raises(ValueError, match=r"pairs of keypoint indices in 0..2, got \(0, 3\)"):
        draw_keypoints(img, kp, connectivity=[(0, 1), (0, 3)])
    with pytest.raises(ValueError, match="pass an RGB image"):
        draw_keypoints(zeroin.tensor(_u8(10, 10, c=1)), kp)
    with pytest.raises(ValueError, match="colors must be a colour name.*\\['red'\\]"):
        draw_keypoints(img, kp, colors=["red"])
    with pytest.raises(TypeError, match="keypoints should be a tensor"):
        draw_keypoints(img, 3)


def test_drawing_leaves_the_input_alone_and_records_nothing():
    arr = _u8(8, 8)
    x = zeroin.tensor(arr.astype(np.float32) / 255, requires_grad=True)
    before = x.detach().numpy().copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = [draw_bounding_boxes(x, zeroin.tensor([[1, 1, 5, 5]]), fill=True),
                draw_segmentation_masks(x, zeroin.tensor(np.eye(8, dtype=bool))),
                draw_keypoints(x, zeroin.tensor([[[4, 4]]]))]
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert all(not o.requires_grad for o in outs)


# ---- flow_to_image (torchvision.utils.flow_to_image was missing) ---------------------------

def _torchvision_flow_to_image(torch, flow):
    """torchvision's flow_to_image step by step in torch (torchvision is not installed here):
    normalise by the batch's largest length, angle -> position on the 55-colour wheel,
    blend the two neighbours, desaturate by the length, floor(255 * .) as uint8."""
    steps = (15, 6, 4, 11, 13, 6)
    wheel, arcs = [], ((0, 1, True), (1, 0, False), (1, 2, True), (2, 1, False),
                       (2, 0, True), (0, 2, False))
    for n, (held, moving, up) in zip(steps, arcs):
        arc = torch.zeros((n, 3))
        ramp = torch.floor(255 * torch.arange(0, n) / n)
        arc[:, held] = 255
        arc[:, moving] = ramp if up else 255 - ramp
        wheel.append(arc)
    wheel = torch.cat(wheel)
    flow = flow[None] if flow.ndim == 3 else flow
    flow = flow / (torch.sum(flow ** 2, dim=1).sqrt().max() + torch.finfo(flow.dtype).eps)
    norm = torch.sum(flow ** 2, dim=1).sqrt()
    a = torch.atan2(-flow[:, 1], -flow[:, 0]) / torch.pi
    fk = (a + 1) / 2 * (len(wheel) - 1)
    k0 = torch.floor(fk).to(torch.long)
    k1 = k0 + 1
    k1[k1 == len(wheel)] = 0
    f = fk - k0
    out = torch.zeros((flow.shape[0], 3, *flow.shape[2:]), dtype=torch.uint8)
    for c in range(3):
        col = (1 - f) * (wheel[k0, c] / 255.0) + f * (wheel[k1, c] / 255.0)
        out[:, c] = torch.floor(255 * (1 - norm * (1 - col)))
    return out


def test_flow_to_image_known_flows_white_still_and_the_wheels_hues():
    from zeroin.vision.utils import flow_to_image
    still = flow_to_image(zeroin.zeros(2, 4, 5))
    assert still.dtype == zeroin.uint8 and still.shape == (3, 4, 5)
    assert (still.numpy() == 255).all()                      # no motion: white
    # one pixel per direction, all of length 1 (the largest): full colour on the wheel
    dirs = np.array([[1, 0], [-1, 0], [0, -1], [0, 1]], np.float32)    # right, left, up, down
    flow = zeroin.tensor(dirs.T.reshape(2, 1, 4).copy())
    got = flow_to_image(flow).numpy()[:, 0].T.tolist()
    # right: angle -pi, wheel[0] = red; left: angle 0, wheel[27] = (0, 255 - 46, 255), sky
    # blue; up (y < 0): wheel[40.5], between (78, 0, 255) and (98, 0, 255); down: between
    # wheel[13] and wheel[14], (255, 221, 0) and (255, 238, 0): orange-yellow
    assert got == [[255, 0, 0], [0, 209, 255], [88, 0, 255], [255, 229, 0]], got
    half = flow_to_image(zeroin.tensor(np.array([[[1.0, 0.5]], [[0, 0]]], np.float32)))
    assert half.numpy()[:, 0, 1].tolist() == [255, 127, 127]   # half the length: half white


def test_flow_to_image_as_torchvisions_algorithm_on_random_flows():
    torch = pytest.importorskip("torch")
    from zeroin.vision.utils import flow_to_image
    rng = np.random.default_rng(5)
    for shape in ((2, 7, 9), (3, 2, 6, 5)):
        f = (rng.standard_normal(shape) * 4).astype(np.float32)
        f[..., 0, 0] = 0                                        # a still pixel too
        got = flow_to_image(zeroin.tensor(f))
        want = _torchvision_flow_to_image(torch, torch.from_numpy(f))
        want = want[0] if len(shape) == 3 else want
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_flow_to_image_errors_name_dtype_and_shape():
    from zeroin.vision.utils import flow_to_image
    for dtype in (zeroin.float16, zeroin.int64, zeroin.bool):
        with pytest.raises(ValueError, match=r"flow_to_image: flow should be of dtype float32 "
                           r"\(torch.float\) or zeroin's default float64, got "
                           r".*; convert it with flow.float\(\)"):
            flow_to_image(zeroin.zeros(2, 3, 3, dtype=dtype))
    f64 = np.random.default_rng(1).standard_normal((2, 3, 4))      # zeroin's default dtype
    np.testing.assert_array_equal(flow_to_image(zeroin.tensor(f64)).numpy(),
                                  flow_to_image(zeroin.tensor(f64.astype(np.float32))).numpy())
    for shape in ((3, 4, 4), (4, 4), (1, 3, 4, 4), (1, 1, 2, 4, 4)):
        with pytest.raises(ValueError, match=r"flow_to_image: input flow should have shape "
                           r"\(2, H, W\) or \(N, 2, H, W\).*got " + re.escape(str(shape))):
            flow_to_image(zeroin.zeros(*shape))
    with pytest.raises(TypeError, match="flow_to_image: flow should be a tensor"):
        flow_to_image(np.zeros((2, 3, 3), np.float32))
