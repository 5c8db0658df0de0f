"""Audit of semantic segmentation and object detection written from scratch: milesial's
U-Net (Pytorch-UNet), an FCN with bilinear-initialised transposed convolutions, DeepLabv3's
ASPP, mIoU by a confusion matrix, YOLOv1 from scratch (Aladdin Persson's IoU, loss, NMS and
mAP) and RetinaNet's anchors, box coding, matching, focal loss and batched NMS. Each piece
runs as a learner ports it (``import zeroin as torch``, ``from zeroin import nn``,
``zeroin.vision`` for torchvision) and on PyTorch, on the same inputs and copied weights:
float64 to 1e-10, float32 to float resolution. torchvision is not installed: its few ops
are transcribed in plain torch on the torch side. See docs/seg.md."""
import math
from collections import Counter

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import np_of as _np
from _audit import torch_defaults_back  # noqa: F401 (autouse: torch's dtype back after each)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


def _f64():
    torch.set_default_dtype(torch.float64)
    zeroin.set_default_dtype(zeroin.float64)


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol)


# --- U-Net (milesial/Pytorch-UNet: unet_parts.py, utils/dice_score.py, train.py) ---------------

def unet_parts(lib):
    nn, F = lib.nn, lib.nn.functional

    class DoubleConv(nn.Module):
        def __init__(self, in_channels, out_channels, mid_channels=None):
            super().__init__()
            if not mid_channels:
                mid_channels = out_channels
            self.double_conv = nn.Sequential(
                nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True),
                nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2),
                                              DoubleConv(in_channels, out_channels))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, in_channels, out_channels, bilinear=True):
            super().__init__()
            if bilinear:
                self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
                self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
            else:
                self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2,
                                             stride=2)
                self.conv = DoubleConv(in_channels, out_channels)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            diffY = x2.size()[2] - x1.size()[2]
            diffX = x2.size()[3] - x1.size()[3]
            x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
            x = lib.cat([x2, x1], dim=1)
            return self.conv(x)

    class UNet(nn.Module):
        """milesial's UNet with widths 4-8-16 (his are 64-...-1024) and two levels."""

        def __init__(self, n_channels, n_classes, bilinear=False):
            super().__init__()
            self.n_channels, self.n_classes, self.bilinear = n_channels, n_classes, bilinear
            factor = 2 if bilinear else 1
            self.inc = DoubleConv(n_channels, 4)
            self.down1 = Down(4, 8)
            self.down2 = Down(8, 16 // factor)
            self.up1 = Up(16, 8 // factor, bilinear)
            self.up2 = Up(8, 4, bilinear)
            self.outc = nn.Conv2d(4, n_classes, kernel_size=1)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x = self.up1(x3, x2)
            x = self.up2(x, x1)
            return self.outc(x)

    return UNet


def dice_fns(lib):
    def dice_coeff(input, target, reduce_batch_first=False, epsilon=1e-6):
        assert input.size() == target.size()
        assert input.dim() == 3 or not reduce_batch_first
        sum_dim = (-1, -2) if input.dim() == 2 or not reduce_batch_first else (-1, -2, -3)
        inter = 2 * (input * target).sum(dim=sum_dim)
        sets_sum = input.sum(dim=sum_dim) + target.sum(dim=sum_dim)
        sets_sum = lib.where(sets_sum == 0, inter, sets_sum)
        dice = (inter + epsilon) / (sets_sum + epsilon)
        return dice.mean()

    def multiclass_dice_coeff(input, target, reduce_batch_first=False, epsilon=1e-6):
        return dice_coeff(input.flatten(0, 1), target.flatten(0, 1), reduce_batch_first,
                          epsilon)

    def dice_loss(input, target, multiclass=False):
        fn = multiclass_dice_coeff if multiclass else dice_coeff
        return 1 - fn(input, target, reduce_batch_first=True)
    return dice_coeff, multiclass_dice_coeff, dice_loss


def _unet_train(lib, model, images, masks, steps=3, float="float"):
    """milesial's train.py loop (amp off) and evaluate.py's dice score each step; his
    ``.float()`` is ``getattr(t, float)()`` here, so that a float64 run stays float64."""
    nn, F, optim = lib.nn, lib.nn.functional, lib.optim
    dice_coeff, multiclass_dice_coeff, dice_loss = dice_fns(lib)
    optimizer = optim.RMSprop(model.parameters(), lr=1e-3, weight_decay=1e-8,
                              momentum=0.999, foreach=True)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, 'max', patience=1)
    grad_scaler = lib.cuda.amp.GradScaler(enabled=False)
    criterion = nn.CrossEntropyLoss() if model.n_classes > 1 else nn.BCEWithLogitsLoss()
    out, lrs = [], []
    images, true_masks = lib.tensor(images), lib.tensor(masks)
    for _ in range(steps):
        model.train()
        with lib.autocast('cpu', enabled=False):
            masks_pred = model(images)
            if model.n_classes == 1:
                loss = criterion(masks_pred.squeeze(1), getattr(true_masks, float)())
                loss += dice_loss(F.sigmoid(masks_pred.squeeze(1)), getattr(true_masks, float)(),
                                  multiclass=False)
            else:
                loss = criterion(masks_pred, true_masks)
                one_hot = F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2)
                loss += dice_loss(getattr(F.softmax(masks_pred, dim=1), float)(),
                                  getattr(one_hot, float)(), multiclass=True)
        optimizer.zero_grad(set_to_none=True)
        grad_scaler.scale(loss).backward()
        grad_scaler.unscale_(optimizer)
        norm = lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        grad_scaler.step(optimizer)
        grad_scaler.update()
        out += [loss, norm, model.outc.weight.grad]
        model.eval()
        with lib.inference_mode():
            mask_pred = model(images)
            if model.n_classes == 1:
                mask_pred = (F.sigmoid(mask_pred) > 0.5).float()
                score = dice_coeff(mask_pred.squeeze(1), getattr(true_masks, float)(),
                                   reduce_batch_first=False)
            else:
                mask_true = F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float()
                mask_pred = F.one_hot(mask_pred.argmax(dim=1), model.n_classes) \
                    .permute(0, 3, 1, 2).float()
                score = multiclass_dice_coeff(mask_pred[:, 1:], mask_true[:, 1:],
                                              reduce_batch_first=False)
        scheduler.step(score)
        lrs.append(optimizer.param_groups[0]['lr'])
        out += [mask_pred, score]
    out += [p.detach() for p in model.parameters()] + list(model.buffers())
    return out, lrs


@pytest.mark.filterwarnings("ignore:.*GradScaler:FutureWarning")   # both libraries warn
@pytest.mark.parametrize("n_classes, bilinear", [(3, True), (1, False)])
def test_unet_odd_sizes_dice_rmsprop_and_plateau(n_classes, bilinear):
    _f64()
    rng = np.random.default_rng(1)
    images = rng.standard_normal((2, 3, 18, 18))      # 18 -> 9 -> 4: the padding fix pads
    masks = rng.integers(0, max(n_classes, 2), (2, 18, 18))
    res, lrs = {}, {}
    nets = {lib: unet_parts(lib)(3, n_classes, bilinear) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        res[lib], lrs[lib] = _unet_train(lib, nets[lib], images, masks, float="double")
    assert lrs[zeroin] == lrs[torch]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        assert str(z.dtype) == str(t.dtype).replace("torch.", "")
        _close(z, t, 1e-9)


def test_unet_float32_forward_and_gradients(f32):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 17, 19)).astype(np.float32)    # odd in both directions
    masks = rng.integers(0, 3, (2, 17, 19))
    masks[0, :3] = 255
    weight = np.array([0.2, 1.0, 2.5], np.float32)
    nets = {lib: unet_parts(lib)(3, 3, True) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    res = {}
    for lib in LIBS:
        F = lib.nn.functional
        out = nets[lib](lib.tensor(x))
        loss = F.cross_entropy(out, lib.tensor(masks), weight=lib.tensor(weight),
                               ignore_index=255)
        loss.backward()
        res[lib] = [out, loss, nets[lib].inc.double_conv[0].weight.grad,
                    nets[lib].up2.conv.double_conv[3].weight.grad]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and z.dtype == zeroin.float32
        _close(z, t, rtol=1e-4, atol=1e-5)     # float32 through ten batch norms


def test_unet_random_split_and_predict():
    """milesial's ``random_split(dataset, [n_train, n_val], generator=torch.Generator()
    .manual_seed(0))`` (the same split on PyTorch's stream) and predict.py's upscaling of the
    output to the image size, argmax and ``mask_to_image``."""
    _f64()
    from _audit import torch_stream
    rng = np.random.default_rng(13)
    images = rng.standard_normal((10, 3, 16, 16))
    masks = rng.integers(0, 3, (10, 16, 16))
    nets = {lib: unet_parts(lib)(3, 3, True) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    torch_stream()
    res, splits = {}, {}
    for lib in LIBS:
        dataset = lib.utils.data.TensorDataset(lib.tensor(images), lib.tensor(masks))
        train_set, val_set = lib.utils.data.random_split(
            dataset, [8, 2], generator=lib.Generator().manual_seed(0))
        splits[lib] = (list(train_set.indices), list(val_set.indices))
        net = nets[lib]
        net.eval()
        img = lib.utils.data.DataLoader(val_set, batch_size=2, shuffle=False)
        with lib.no_grad():
            output = net(next(iter(img))[0]).cpu()
            output = lib.nn.functional.interpolate(output, (20, 18), mode='bilinear')
            mask = output.argmax(dim=1)
        mask = mask[0].long().squeeze().numpy()
        out = np.zeros((mask.shape[-2], mask.shape[-1]), dtype=np.uint8)
        for i, v in enumerate([0, 127, 255]):
            out[mask == i] = v
        res[lib] = [output, mask, out]
    assert splits[zeroin] == splits[torch]
    _same(res)


# --- FCN with bilinear transposed convolutions, DeepLabv3's ASPP, mIoU -------------------------

def get_upsampling_weight(lib, in_channels, out_channels, kernel_size):
    """pytorch-fcn's (wkentaro) bilinear kernel, made with np.ogrid."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=np.float64)
    weight[range(in_channels), range(out_channels), :, :] = filt
    return lib.from_numpy(weight).float()


def fcn_parts(lib, n_class=4):
    nn, F = lib.nn, lib.nn.functional

    class TinyFCN(nn.Module):
        """FCN-8s's fusion in small: scores at strides 4 and 2, a 2x bilinear-initialised
        transposed convolution, summed, then interpolated back to the input size."""

        def __init__(self):
            super().__init__()
            self.stage1 = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True),
                                        nn.MaxPool2d(2, stride=2, ceil_mode=True))
            self.stage2 = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
                                        nn.MaxPool2d(2, stride=2, ceil_mode=True))
            self.score_fr = nn.Conv2d(8, n_class, 1)
            self.score_pool1 = nn.Conv2d(6, n_class, 1)
            self.upscore2 = nn.ConvTranspose2d(n_class, n_class, 4, stride=2, padding=1,
                                               bias=False)
            self.upscore4 = nn.ConvTranspose2d(n_class, n_class, 8, stride=4, padding=2,
                                               bias=False)
            for m in self.modules():
                if isinstance(m, nn.ConvTranspose2d):
                    assert m.kernel_size[0] == m.kernel_size[1]
                    initial_weight = get_upsampling_weight(lib, m.in_channels, m.out_channels,
                                                           m.kernel_size[0])
                    m.weight.data.copy_(initial_weight)

        def forward(self, x):
            p1 = self.stage1(x)
            h = self.upscore2(self.score_fr(self.stage2(p1)))
            h = h[:, :, :p1.shape[2], :p1.shape[3]] + self.score_pool1(p1)   # score fusion
            return (F.interpolate(h, size=x.shape[-2:], mode='bilinear', align_corners=False),
                    self.upscore4(self.score_fr(self.stage2(p1))))
    return TinyFCN


def aspp_parts(lib):
    """torchvision's DeepLabv3 head (segmentation/deeplabv3.py), written out."""
    nn, F = lib.nn, lib.nn.functional

    class ASPPConv(nn.Sequential):
        def __init__(self, in_channels, out_channels, dilation):
            modules = [nn.Conv2d(in_channels, out_channels, 3, padding=dilation,
                                 dilation=dilation, bias=False),
                       nn.BatchNorm2d(out_channels), nn.ReLU()]
            super().__init__(*modules)

    class ASPPPooling(nn.Sequential):
        def __init__(self, in_channels, out_channels):
            super().__init__(nn.AdaptiveAvgPool2d(1),
                             nn.Conv2d(in_channels, out_channels, 1, bias=False),
                             nn.BatchNorm2d(out_channels), nn.ReLU())

        def forward(self, x):
            size = x.shape[-2:]
            for mod in self:
                x = mod(x)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    class ASPP(nn.Module):
        def __init__(self, in_channels, atrous_rates, out_channels=256):
            super().__init__()
            modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU())]
            for rate in tuple(atrous_rates):
                modules.append(ASPPConv(in_channels, out_channels, rate))
            modules.append(ASPPPooling(in_channels, out_channels))
            self.convs = nn.ModuleList(modules)
            self.project = nn.Sequential(
                nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(0.5))

        def forward(self, x):
            _res = [conv(x) for conv in self.convs]
            res = lib.cat(_res, dim=1)
            return self.project(res)
    return ASPP


def fast_hist(lib, label_true, label_pred, n_class):
    """The FCN / DeepLab confusion matrix by bincount, and its IoU per class and mIoU."""
    mask = (label_true >= 0) & (label_true < n_class)
    hist = lib.bincount(n_class * label_true[mask] + label_pred[mask],
                        minlength=n_class ** 2).reshape(n_class, n_class)
    iu = lib.diag(hist) / (hist.sum(dim=1) + hist.sum(dim=0) - lib.diag(hist))
    acc = lib.diag(hist).sum() / hist.sum()
    return hist, iu, lib.nanmean(iu), acc


def test_fcn_bilinear_upsampling_fusion_and_training(f32):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 15, 16)).astype(np.float32)
    y = rng.integers(0, 4, (2, 15, 16))
    res = {}
    nets = {lib: fcn_parts(lib)() for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        net = nets[lib]
        out = [get_upsampling_weight(lib, 3, 3, 5), net.upscore4.weight]
        opt = lib.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        for _ in range(2):
            fused, up4 = net(lib.tensor(x))
            loss = lib.nn.functional.cross_entropy(fused, lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out += [fused, up4, loss, net.upscore2.weight.grad, net.score_pool1.weight.grad]
        res[lib] = out
    assert tuple(res[zeroin][2].shape) == (2, 4, 15, 16)
    assert tuple(res[zeroin][3].shape) == (2, 4, 16, 16)         # k=2s, stride s, pad s/2
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and z.dtype == zeroin.float32
        _close(z, t, rtol=2e-5, atol=2e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_deeplab_aspp_train_eval_and_miou():
    _f64()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 12, 11))
    y = rng.integers(0, 3, (2, 12, 11))
    heads = {lib: aspp_parts(lib)(5, [1, 2, 3], out_channels=6) for lib in LIBS}
    _copy(heads[torch], heads[zeroin])
    res = {}
    for lib in LIBS:
        head = heads[lib]
        cls = lib.nn.Conv2d(6, 3, 1)
        with lib.no_grad():
            cls.weight.copy_(lib.tensor(np.linspace(-1, 1, 18).reshape(3, 6, 1, 1)))
            cls.bias.zero_()
        head.project[3].p = 0.0                                   # the libraries' own masks
        opt = lib.optim.SGD(list(head.parameters()) + list(cls.parameters()), lr=0.1,
                            weight_decay=1e-4)
        out = []
        for _ in range(2):
            logits = cls(head(lib.tensor(x)))
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out += [logits, loss, head.convs[4][1].weight.grad, head.convs[2][0].weight.grad]
        head.eval()
        pred = cls(head(lib.tensor(x))).argmax(dim=1)
        label = lib.tensor(y)
        label[0, 0, :4] = 255                                     # "ignore" pixels
        out += list(fast_hist(lib, label, pred, 3)) + [p.detach() for p in head.parameters()]
        out += list(head.buffers())
        res[lib] = out
    _same(res, 1e-9)
    # a class never seen nor predicted: its IoU is nan and nanmean skips it, as in torch
    res = {lib: fast_hist(lib, lib.tensor([0, 1, 1, 0]), lib.tensor([0, 1, 0, 0]), 3)
           for lib in LIBS}
    assert np.isnan(_np(res[zeroin][1])[2])
    _same(res)


# --- YOLOv1 from scratch (Aladdin Persson: utils.py, loss.py, model.py) -------------------------

def intersection_over_union(lib, boxes_preds, boxes_labels, box_format="midpoint"):
    if box_format == "midpoint":
        box1_x1 = boxes_preds[..., 0:1] - boxes_preds[..., 2:3] / 2
        box1_y1 = boxes_preds[..., 1:2] - boxes_preds[..., 3:4] / 2
        box1_x2 = boxes_preds[..., 0:1] + boxes_preds[..., 2:3] / 2
        box1_y2 = boxes_preds[..., 1:2] + boxes_preds[..., 3:4] / 2
        box2_x1 = boxes_labels[..., 0:1] - boxes_labels[..., 2:3] / 2
        box2_y1 = boxes_labels[..., 1:2] - boxes_labels[..., 3:4] / 2
        box2_x2 = boxes_labels[..., 0:1] + boxes_labels[..., 2:3] / 2
        box2_y2 = boxes_labels[..., 1:2] + boxes_labels[..., 3:4] / 2
    if box_format == "corners":
        box1_x1 = boxes_preds[..., 0:1]
        box1_y1 = boxes_preds[..., 1:2]
        box1_x2 = boxes_preds[..., 2:3]
        box1_y2 = boxes_preds[..., 3:4]
        box2_x1 = boxes_labels[..., 0:1]
        box2_y1 = boxes_labels[..., 1:2]
        box2_x2 = boxes_labels[..., 2:3]
        box2_y2 = boxes_labels[..., 3:4]
    x1 = lib.max(box1_x1, box2_x1)
    y1 = lib.max(box1_y1, box2_y1)
    x2 = lib.min(box1_x2, box2_x2)
    y2 = lib.min(box1_y2, box2_y2)
    intersection = (x2 - x1).clamp(0) * (y2 - y1).clamp(0)
    box1_area = abs((box1_x2 - box1_x1) * (box1_y2 - box1_y1))
    box2_area = abs((box2_x2 - box2_x1) * (box2_y2 - box2_y1))
    return intersection / (box1_area + box2_area - intersection + 1e-6)


def yolo_loss(lib):
    nn = lib.nn

    class YoloLoss(nn.Module):
        def __init__(self, S=7, B=2, C=20):
            super().__init__()
            self.mse = nn.MSELoss(reduction="sum")
            self.S, self.B, self.C = S, B, C
            self.lambda_noobj = 0.5
            self.lambda_coord = 5

        def forward(self, predictions, target):
            iou = intersection_over_union
            predictions = predictions.reshape(-1, self.S, self.S, self.C + self.B * 5)
            iou_b1 = iou(lib, predictions[..., 21:25], target[..., 21:25])
            iou_b2 = iou(lib, predictions[..., 26:30], target[..., 21:25])
            ious = lib.cat([iou_b1.unsqueeze(0), iou_b2.unsqueeze(0)], dim=0)
            iou_maxes, bestbox = lib.max(ious, dim=0)
            exists_box = target[..., 20].unsqueeze(3)
            box_predictions = exists_box * (bestbox * predictions[..., 26:30]
                                            + (1 - bestbox) * predictions[..., 21:25])
            box_targets = exists_box * target[..., 21:25]
            box_predictions[..., 2:4] = lib.sign(box_predictions[..., 2:4]) * lib.sqrt(
                lib.abs(box_predictions[..., 2:4] + 1e-6))
            box_targets[..., 2:4] = lib.sqrt(box_targets[..., 2:4])
            box_loss = self.mse(lib.flatten(box_predictions, end_dim=-2),
                                lib.flatten(box_targets, end_dim=-2))
            pred_box = (bestbox * predictions[..., 25:26]
                        + (1 - bestbox) * predictions[..., 20:21])
            object_loss = self.mse(lib.flatten(exists_box * pred_box),
                                   lib.flatten(exists_box * target[..., 20:21]))
            no_object_loss = self.mse(
                lib.flatten((1 - exists_box) * predictions[..., 20:21], start_dim=1),
                lib.flatten((1 - exists_box) * target[..., 20:21], start_dim=1))
            no_object_loss += self.mse(
                lib.flatten((1 - exists_box) * predictions[..., 25:26], start_dim=1),
                lib.flatten((1 - exists_box) * target[..., 20:21], start_dim=1))
            class_loss = self.mse(lib.flatten(exists_box * predictions[..., :20], end_dim=-2),
                                  lib.flatten(exists_box * target[..., :20], end_dim=-2))
            return (self.lambda_coord * box_loss + object_loss
                    + self.lambda_noobj * no_object_loss + class_loss), iou_maxes
    return YoloLoss


def tiny_yolov1(lib, S=7, B=2, C=20):
    """Persson's Yolov1 in small: CNNBlocks (conv, BatchNorm, LeakyReLU 0.1) on a 16x16
    image, then his fully connected head to S * S * (C + B * 5)."""
    nn = lib.nn

    class CNNBlock(nn.Module):
        def __init__(self, in_channels, out_channels, **kwargs):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
            self.batchnorm = nn.BatchNorm2d(out_channels)
            self.leakyrelu = nn.LeakyReLU(0.1)

        def forward(self, x):
            return self.leakyrelu(self.batchnorm(self.conv(x)))

    class Yolov1(nn.Module):
        def __init__(self):
            super().__init__()
            self.darknet = nn.Sequential(
                CNNBlock(3, 8, kernel_size=7, stride=2, padding=3),
                nn.MaxPool2d(kernel_size=2, stride=2),
                CNNBlock(8, 16, kernel_size=3, stride=1, padding=1),
                nn.MaxPool2d(kernel_size=2, stride=2))
            self.fcs = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, 32), nn.Dropout(0.0),
                                     nn.LeakyReLU(0.1), nn.Linear(32, S * S * (C + B * 5)))

        def forward(self, x):
            x = self.darknet(x)
            return self.fcs(lib.flatten(x, start_dim=1))
    return Yolov1()


def convert_cellboxes(lib, predictions, S=7):
    predictions = predictions.to("cpu")
    batch_size = predictions.shape[0]
    predictions = predictions.reshape(batch_size, 7, 7, 30)
    bboxes1 = predictions[..., 21:25]
    bboxes2 = predictions[..., 26:30]
    scores = lib.cat((predictions[..., 20].unsqueeze(0), predictions[..., 25].unsqueeze(0)),
                     dim=0)
    best_box = scores.argmax(0).unsqueeze(-1)
    best_boxes = bboxes1 * (1 - best_box) + best_box * bboxes2
    cell_indices = lib.arange(7).repeat(batch_size, 7, 1).unsqueeze(-1)
    x = 1 / S * (best_boxes[..., :1] + cell_indices)
    y = 1 / S * (best_boxes[..., 1:2] + cell_indices.permute(0, 2, 1, 3))
    w_y = 1 / S * best_boxes[..., 2:4]
    converted_bboxes = lib.cat((x, y, w_y), dim=-1)
    predicted_class = predictions[..., :20].argmax(-1).unsqueeze(-1)
    best_confidence = lib.max(predictions[..., 20], predictions[..., 25]).unsqueeze(-1)
    return lib.cat((predicted_class, best_confidence, converted_bboxes), dim=-1)


def cellboxes_to_boxes(lib, out, S=7):
    converted_pred = convert_cellboxes(lib, out).reshape(out.shape[0], S * S, -1)
    converted_pred[..., 0] = converted_pred[..., 0].long()
    all_bboxes = []
    for ex_idx in range(out.shape[0]):
        bboxes = []
        for bbox_idx in range(S * S):
            bboxes.append([x.item() for x in converted_pred[ex_idx, bbox_idx, :]])
        all_bboxes.append(bboxes)
    return all_bboxes


def non_max_suppression(lib, bboxes, iou_threshold, threshold, box_format="corners"):
    assert type(bboxes) == list
    bboxes = [box for box in bboxes if box[1] > threshold]
    bboxes = sorted(bboxes, key=lambda x: x[1], reverse=True)
    bboxes_after_nms = []
    while bboxes:
        chosen_box = bboxes.pop(0)
        bboxes = [box for box in bboxes if box[0] != chosen_box[0]
                  or intersection_over_union(lib, lib.tensor(chosen_box[2:]),
                                             lib.tensor(box[2:]), box_format=box_format)
                  < iou_threshold]
        bboxes_after_nms.append(chosen_box)
    return bboxes_after_nms


def mean_average_precision(lib, pred_boxes, true_boxes, iou_threshold=0.5,
                           box_format="midpoint", num_classes=20):
    average_precisions = []
    epsilon = 1e-6
    for c in range(num_classes):
        detections = [d for d in pred_boxes if d[1] == c]
        ground_truths = [t for t in true_boxes if t[1] == c]
        amount_bboxes = Counter([gt[0] for gt in ground_truths])
        for key, val in amount_bboxes.items():
            amount_bboxes[key] = lib.zeros(val)
        detections.sort(key=lambda x: x[2], reverse=True)
        TP = lib.zeros(len(detections))
        FP = lib.zeros(len(detections))
        total_true_bboxes = len(ground_truths)
        if total_true_bboxes == 0:
            continue
        for detection_idx, detection in enumerate(detections):
            ground_truth_img = [bbox for bbox in ground_truths if bbox[0] == detection[0]]
            best_iou = 0
            for idx, gt in enumerate(ground_truth_img):
                iou = intersection_over_union(lib, lib.tensor(detection[3:]),
                                              lib.tensor(gt[3:]), box_format=box_format)
                if iou > best_iou:
                    best_iou = iou
                    best_gt_idx = idx
            if best_iou > iou_threshold:
                if amount_bboxes[detection[0]][best_gt_idx] == 0:
                    TP[detection_idx] = 1
                    amount_bboxes[detection[0]][best_gt_idx] = 1
                else:
                    FP[detection_idx] = 1
            else:
                FP[detection_idx] = 1
        TP_cumsum = lib.cumsum(TP, dim=0)
        FP_cumsum = lib.cumsum(FP, dim=0)
        recalls = TP_cumsum / (total_true_bboxes + epsilon)
        precisions = lib.divide(TP_cumsum, (TP_cumsum + FP_cumsum + epsilon))
        precisions = lib.cat((lib.tensor([1]), precisions))
        recalls = lib.cat((lib.tensor([0]), recalls))
        average_precisions.append(lib.trapz(precisions, recalls))
    return sum(average_precisions) / len(average_precisions)


def _yolo_target(rng, n, S=7):
    """A label matrix as Persson's VOCDataset builds it: per cell 20 class scores, then
    objectness and (x, y, w, h) of the box in the cell."""
    target = np.zeros((n, S, S, 30))
    for i in range(n):
        for cell in rng.choice(S * S, 6, replace=False):
            r, c = divmod(int(cell), S)
            target[i, r, c, rng.integers(0, 20)] = 1
            target[i, r, c, 20] = 1
            target[i, r, c, 21:25] = [*rng.uniform(0.05, 0.95, 2), *rng.uniform(0.1, 2.0, 2)]
    return target


def test_yolov1_iou_both_formats():
    _f64()
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, (3, 7, 7, 4))
    b = rng.uniform(0, 1, (3, 7, 7, 4))
    corners = np.concatenate([a[..., :2], a[..., :2] + b[..., 2:]], -1)
    res = {}
    for lib in LIBS:
        ta = lib.tensor(a, requires_grad=True)
        mid = intersection_over_union(lib, ta, lib.tensor(b))
        cor = intersection_over_union(lib, lib.tensor(corners), lib.tensor(corners[::-1].copy()),
                                      box_format="corners")
        mid.sum().backward()
        res[lib] = [mid, cor, ta.grad]
    _same(res)


def test_yolov1_loss_training_and_cellboxes():
    # float64: the loss's sqrt(|w + 1e-6|) has slope up to 500 near 0, which blows float32's
    # rounding up past float32 resolution in the gradients
    _f64()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 16, 16))
    target = _yolo_target(rng, 2)
    nets = {lib: tiny_yolov1(lib) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    res, boxes = {}, {}
    for lib in LIBS:
        net, loss_fn = nets[lib], yolo_loss(lib)()
        opt = lib.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
        out = []
        for _ in range(3):
            pred = net(lib.tensor(x))
            loss, iou_maxes = loss_fn(pred, lib.tensor(target))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out += [pred, loss, iou_maxes, net.fcs[4].weight.grad, net.darknet[0].conv.weight.grad]
        net.eval()
        with lib.no_grad():
            pred = net(lib.tensor(x))
        out.append(convert_cellboxes(lib, pred))
        res[lib] = out
        boxes[lib] = cellboxes_to_boxes(lib, pred)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and z.dtype == zeroin.float64
        _close(z, t, 1e-9)
    # the lists of boxes [class, confidence, x, y, w, h] are Python floats
    np.testing.assert_allclose(np.array(boxes[zeroin]), np.array(boxes[torch]), rtol=1e-9,
                               atol=1e-9)


def test_yolov1_nms_by_hand_and_map():
    _f64()
    rng = np.random.default_rng(7)
    # boxes [class, score, x1, y1, x2, y2], clustered so that NMS suppresses many
    bboxes = []
    for _ in range(40):
        cx, cy = rng.choice([0.3, 0.7]), rng.choice([0.3, 0.6])
        x1, y1 = cx + rng.normal(0, 0.05), cy + rng.normal(0, 0.05)
        bboxes.append([float(rng.integers(0, 3)), float(rng.uniform()), x1, y1,
                       x1 + rng.uniform(0.1, 0.3), y1 + rng.uniform(0.1, 0.3)])
    kept = {lib: non_max_suppression(lib, bboxes, 0.5, 0.2) for lib in LIBS}
    assert kept[zeroin] == kept[torch] and 3 < len(kept[zeroin]) < 30
    # mAP over images: [train_idx, class, score, x, y, w, h] (midpoint)
    true_boxes, pred_boxes = [], []
    for img in range(4):
        for _ in range(3):
            c, box = int(rng.integers(0, 3)), [*rng.uniform(0.2, 0.8, 2), *rng.uniform(0.1, 0.4, 2)]
            true_boxes.append([img, c, 1.0, *box])
            for _ in range(2):     # near hits and misses
                noisy = [v + rng.normal(0, 0.04) for v in box]
                pred_boxes.append([img, c if rng.uniform() < 0.8 else (c + 1) % 3,
                                   float(rng.uniform()), *noisy])
    def corners(boxes):
        return [[*b[:3], b[3] - b[5] / 2, b[4] - b[6] / 2, b[3] + b[5] / 2, b[4] + b[6] / 2]
                for b in boxes]
    for fmt, preds, trues in (("midpoint", pred_boxes, true_boxes),
                              ("corners", corners(pred_boxes), corners(true_boxes))):
        res = {lib: mean_average_precision(lib, preds, trues, 0.5, fmt, 3) for lib in LIBS}
        assert str(res[zeroin].dtype) == str(res[torch].dtype).replace("torch.", "")
        _close(res[zeroin], res[torch])
        assert 0.0 < float(res[zeroin]) < 1.0


# --- RetinaNet pieces: anchors, box coding, matching, focal loss, batched NMS -------------------

def anchors_for(lib, image_size, strides=(4, 8), sizes=(8, 16), ratios=(0.5, 1.0, 2.0),
                scales=(1.0, 2 ** (1 / 3), 2 ** (2 / 3))):
    """RetinaNet's anchors as torchvision's AnchorGenerator makes them (xyxy), level by
    level: base anchors rounded, shifted over a meshgrid(indexing='ij')."""
    out = []
    for stride, size in zip(strides, sizes):
        scl = lib.as_tensor([size * s for s in scales])
        ar = lib.as_tensor(ratios)
        h_ratios = lib.sqrt(ar)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scl[None, :]).view(-1)
        hs = (h_ratios[:, None] * scl[None, :]).view(-1)
        base = lib.stack([-ws, -hs, ws, hs], dim=1) / 2
        base = base.round()
        n = image_size // stride
        shifts_x = lib.arange(0, n, dtype=lib.int32) * stride
        shifts_y = lib.arange(0, n, dtype=lib.int32) * stride
        shift_y, shift_x = lib.meshgrid(shifts_y, shifts_x, indexing="ij")
        shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
        shifts = lib.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
        out.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
    return lib.cat(out)


def box_iou_torch(boxes1, boxes2):
    """torchvision.ops.box_iou transcribed in plain torch."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (area1[:, None] + area2 - inter)


def encode(lib, gt, anc, weights=(1.0, 1.0, 1.0, 1.0)):
    """torchvision's BoxCoder.encode_single (weights (1, 1, 1, 1) as RetinaNet's)."""
    wx, wy, ww, wh = weights
    anc_w, anc_h = anc[:, 2] - anc[:, 0], anc[:, 3] - anc[:, 1]
    anc_x, anc_y = anc[:, 0] + 0.5 * anc_w, anc[:, 1] + 0.5 * anc_h
    gt_w, gt_h = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gt_x, gt_y = gt[:, 0] + 0.5 * gt_w, gt[:, 1] + 0.5 * gt_h
    return lib.stack((wx * (gt_x - anc_x) / anc_w, wy * (gt_y - anc_y) / anc_h,
                      ww * lib.log(gt_w / anc_w), wh * lib.log(gt_h / anc_h)), dim=1)


BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def decode(lib, rel, anc, clip=BBOX_XFORM_CLIP):
    """torchvision's BoxCoder.decode_single: exp of the size codes clamped at log(1000/16)."""
    widths, heights = anc[:, 2] - anc[:, 0], anc[:, 3] - anc[:, 1]
    ctr_x, ctr_y = anc[:, 0] + 0.5 * widths, anc[:, 1] + 0.5 * heights
    dx, dy, dw, dh = rel[:, 0::4], rel[:, 1::4], rel[:, 2::4], rel[:, 3::4]
    dw, dh = lib.clamp(dw, max=clip), lib.clamp(dh, max=clip)
    pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
    pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
    pred_w = lib.exp(dw) * widths[:, None]
    pred_h = lib.exp(dh) * heights[:, None]
    c_to_c_h = lib.tensor(0.5, dtype=pred_ctr_y.dtype) * pred_h
    c_to_c_w = lib.tensor(0.5, dtype=pred_ctr_x.dtype) * pred_w
    return lib.stack((pred_ctr_x - c_to_c_w, pred_ctr_y - c_to_c_h,
                      pred_ctr_x + c_to_c_w, pred_ctr_y + c_to_c_h), dim=2).flatten(1)


def sigmoid_focal_loss_torch(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss transcribed in plain torch."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                                   reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def nms_torch(boxes, scores, iou_threshold):
    """torchvision.ops.nms transcribed in plain torch (greedy, by decreasing score). As its
    kernel (``if (ovr > iou_threshold) suppressed[j] = 1``), a nan IoU (two empty boxes,
    as clipping makes them) suppresses nothing."""
    order = scores.argsort(descending=True, stable=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        iou = box_iou_torch(boxes[i][None], boxes[order[1:]])[0]
        order = order[1:][~(iou > iou_threshold)]
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms_torch(boxes, scores, idxs, iou_threshold):
    """torchvision's batched_nms in plain torch: on the CPU its _batched_nms_vanilla above
    4000 coordinates, else _batched_nms_coordinate_trick."""
    if boxes.numel() > 4000:
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for class_id in torch.unique(idxs):
            curr_indices = torch.where(idxs == class_id)[0]
            curr_keep_indices = nms_torch(boxes[curr_indices], scores[curr_indices],
                                          iou_threshold)
            keep_mask[curr_indices[curr_keep_indices]] = True
        keep_indices = torch.where(keep_mask)[0]
        return keep_indices[scores[keep_indices].sort(descending=True, stable=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    boxes_for_nms = boxes + offsets[:, None]
    return nms_torch(boxes_for_nms, scores, iou_threshold)


def _gt_boxes(rng, n, size=24):
    xy = rng.uniform(0, size * 0.6, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(4, size * 0.5, (n, 2))], 1)


def test_retinanet_anchors_coding_matching_and_losses():
    _f64()
    import zeroin.vision as torchvision
    rng = np.random.default_rng(8)
    gt = _gt_boxes(rng, 5)
    labels = rng.integers(0, 3, 5)
    n_anchors = 6 * 6 * 9 + 3 * 3 * 9
    logit_np = rng.standard_normal((n_anchors, 3)) * 2
    rel_np = rng.standard_normal((n_anchors, 4)) * 0.3
    res = {}
    for lib in LIBS:
        anchors = anchors_for(lib, 24)
        gt_t = lib.tensor(gt)
        iou = (torchvision.ops.box_iou if lib is zeroin else box_iou_torch)(gt_t, anchors)
        # RetinaNet's Matcher: best gt per anchor, 0.5 / 0.4 thresholds, low-quality matches
        matched_vals, matches = iou.max(dim=0)
        below = matched_vals < 0.4
        between = (matched_vals >= 0.4) & (matched_vals < 0.5)
        all_matches = matches.clone()
        matches[below] = -1
        matches[between] = -2
        highest_quality_foreach_gt, _ = iou.max(dim=1)
        pred_inds_to_update = lib.where(iou == highest_quality_foreach_gt[:, None])[1]
        matches[pred_inds_to_update] = all_matches[pred_inds_to_update]
        foreground = matches >= 0
        valid = matches != -2
        targets = lib.zeros((anchors.shape[0], 3))
        targets[foreground, lib.tensor(labels)[matches[foreground]]] = 1.0
        logits = lib.tensor(logit_np, requires_grad=True)
        rel = lib.tensor(rel_np, requires_grad=True)
        num_fg = foreground.sum()
        fl = (torchvision.ops.sigmoid_focal_loss if lib is zeroin else sigmoid_focal_loss_torch)
        cls_loss = fl(logits[valid], targets[valid], reduction="sum") / max(1, int(num_fg))
        target_reg = encode(lib, gt_t[matches[foreground]], anchors[foreground].to(gt_t.dtype))
        F = lib.nn.functional
        reg_loss = F.smooth_l1_loss(rel[foreground], target_reg, beta=1 / 9,
                                    reduction="sum") / max(1, int(num_fg))
        l1 = F.l1_loss(rel[foreground], target_reg, reduction="sum") / max(1, int(num_fg))
        (cls_loss + reg_loss + 0.1 * l1).backward()
        decoded = decode(lib, target_reg, anchors[foreground].to(gt_t.dtype))
        big = decode(lib, lib.full((2, 4), 10.0), anchors[:2].to(gt_t.dtype))
        res[lib] = [anchors, iou, matched_vals, matches, targets, cls_loss, reg_loss, l1,
                    logits.grad, rel.grad, target_reg, decoded, big]
    assert res[zeroin][3].dtype == zeroin.int64 and tuple(res[zeroin][0].shape) == (405, 4)
    matches = _np(res[zeroin][3])
    _close(res[zeroin][11], gt[matches[matches >= 0]], 1e-9)     # decode(encode(gt)) == gt
    _same(res)


def test_sigmoid_focal_loss_alpha_gamma_and_reductions():
    _f64()
    import zeroin.vision as torchvision
    rng = np.random.default_rng(9)
    x = rng.standard_normal((30, 4)) * 3
    t = (rng.uniform(size=(30, 4)) < 0.3).astype(np.float64)
    res = {}
    for lib in LIBS:
        xi = lib.tensor(x, requires_grad=True)
        fl = torchvision.ops.sigmoid_focal_loss if lib is zeroin else sigmoid_focal_loss_torch
        out = [fl(xi, lib.tensor(t)), fl(xi, lib.tensor(t), alpha=-1, gamma=0, reduction="mean")]
        (out[0].sum() + fl(xi, lib.tensor(t), alpha=0.5, gamma=1.5, reduction="mean")).backward()
        res[lib] = out + [xi.grad]
    _same(res)


def test_batched_nms_and_nms_against_the_transcription():
    _f64()
    import zeroin.vision as torchvision
    rng = np.random.default_rng(10)
    boxes = np.concatenate([_gt_boxes(rng, 60), _gt_boxes(rng, 20)])
    scores = rng.uniform(size=80)
    idxs = rng.integers(0, 4, 80)
    for thr in (0.3, 0.5, 0.7):
        tb, ts, ti = torch.tensor(boxes), torch.tensor(scores), torch.tensor(idxs)
        zb, zs, zi = zeroin.tensor(boxes), zeroin.tensor(scores), zeroin.tensor(idxs)
        want = batched_nms_torch(tb, ts, ti, thr)
        got = torchvision.ops.batched_nms(zb, zs, zi, thr)
        assert got.dtype == zeroin.int64 and _np(got).tolist() == want.tolist()
        # the offset trick by hand on zeroin gives the same as batched_nms
        offsets = zi.to(zb) * (zb.max() + zeroin.tensor(1).to(zb))
        by_hand = torchvision.ops.nms(zb + offsets[:, None], zs, thr)
        assert _np(by_hand).tolist() == want.tolist()
        assert _np(torchvision.ops.nms(zb, zs, thr)).tolist() == nms_torch(tb, ts, thr).tolist()
    # more than 1000 boxes: torchvision runs nms per category
    big, big_scores = _gt_boxes(rng, 1100), rng.uniform(size=1100)
    big_idxs = rng.integers(0, 5, 1100)
    for dt in (np.float64, np.float32):
        want = batched_nms_torch(torch.tensor(big.astype(dt)), torch.tensor(big_scores.astype(dt)),
                                 torch.tensor(big_idxs), 0.4)
        got = torchvision.ops.batched_nms(zeroin.tensor(big.astype(dt)),
                                          zeroin.tensor(big_scores.astype(dt)),
                                          zeroin.tensor(big_idxs), 0.4)
        assert 50 < len(want) < 1000 and _np(got).tolist() == want.tolist()
    # empty boxes (clipped to an edge): their IoU is 0 / 0, which suppresses nothing
    empty = np.array([[24, 3, 24, 9], [24, 4, 24, 8], [0, 0, 5, 5], [24, 3, 24, 9]], float)
    sc = np.array([0.9, 0.8, 0.7, 0.6])
    want = nms_torch(torch.tensor(empty), torch.tensor(sc), 0.5)
    assert want.tolist() == [0, 1, 2, 3]
    assert _np(torchvision.ops.nms(zeroin.tensor(empty), zeroin.tensor(sc), 0.5)).tolist() \
        == want.tolist()
    # float32 boxes, as a detector's head gives them
    b32 = boxes.astype(np.float32)
    want = batched_nms_torch(torch.tensor(b32), torch.tensor(scores, dtype=torch.float32),
                             torch.tensor(idxs), 0.5)
    got = torchvision.ops.batched_nms(zeroin.tensor(b32), zeroin.tensor(scores.astype(np.float32)),
                                      zeroin.tensor(idxs), 0.5)
    assert _np(got).tolist() == want.tolist()


def generalized_box_iou_torch(boxes1, boxes2):
    """torchvision.ops.generalized_box_iou transcribed in plain torch."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    lti = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rbi = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return inter / union - (areai - union) / areai


def clip_boxes_to_image_torch(boxes, size):
    """torchvision.ops.clip_boxes_to_image transcribed in plain torch."""
    height, width = size
    boxes_x = boxes[..., 0::2].clamp(min=0, max=width)
    boxes_y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((boxes_x, boxes_y), dim=boxes.dim()).reshape(boxes.shape)


def remove_small_boxes_torch(boxes, min_size):
    """torchvision.ops.remove_small_boxes transcribed in plain torch."""
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((ws >= min_size) & (hs >= min_size))[0]


def test_retinanet_postprocess_clip_small_boxes_giou():
    """RetinaNet's postprocess_detections on one image: per level the scores above 0.05,
    the top-k, decoded boxes clipped to the image, then batched NMS and the best few;
    DETR's generalized IoU with its gradient; small boxes removed as Faster R-CNN's RPN."""
    _f64()
    import zeroin.vision as torchvision
    ops = torchvision.ops
    rng = np.random.default_rng(11)
    size, num_classes = 24, 3
    n_anchors = 6 * 6 * 9 + 3 * 3 * 9
    logits = rng.standard_normal((n_anchors, num_classes)) * 2 - 1
    rel = rng.standard_normal((n_anchors, 4)) * 0.5
    gt = _gt_boxes(rng, 4)
    res = {}
    for lib in LIBS:
        tv = ops if lib is zeroin else None
        clip = tv.clip_boxes_to_image if tv else clip_boxes_to_image_torch
        bnms = tv.batched_nms if tv else batched_nms_torch
        anchors = anchors_for(lib, size).to(lib.float64)
        levels = [(0, 6 * 6 * 9), (6 * 6 * 9, n_anchors)]
        image_boxes, image_scores, image_labels = [], [], []
        for lo, hi in levels:
            scores_per_level = lib.sigmoid(lib.tensor(logits[lo:hi])).flatten()
            keep_idxs = scores_per_level > 0.05
            scores_per_level = scores_per_level[keep_idxs]
            topk_idxs = lib.where(keep_idxs)[0]
            num_topk = min(100, topk_idxs.size(0))
            scores_per_level, idxs = scores_per_level.topk(num_topk)
            topk_idxs = topk_idxs[idxs]
            anchor_idxs = lib.div(topk_idxs, num_classes, rounding_mode="floor")
            labels_per_level = topk_idxs % num_classes
            boxes_per_level = decode(lib, lib.tensor(rel[lo:hi])[anchor_idxs],
                                     anchors[lo:hi][anchor_idxs])
            boxes_per_level = clip(boxes_per_level, (size, size))
            image_boxes.append(boxes_per_level)
            image_scores.append(scores_per_level)
            image_labels.append(labels_per_level)
        image_boxes = lib.cat(image_boxes, dim=0)
        image_scores = lib.cat(image_scores, dim=0)
        image_labels = lib.cat(image_labels, dim=0)
        keep = bnms(image_boxes, image_scores, image_labels, 0.5)[:10]
        small = (tv.remove_small_boxes if tv else remove_small_boxes_torch)(image_boxes, 6.0)
        pred = image_boxes[keep].clone().requires_grad_(True)
        giou = (tv.generalized_box_iou if tv else generalized_box_iou_torch)(pred, lib.tensor(gt))
        (1 - giou).sum().backward()
        res[lib] = [image_boxes, image_scores, image_labels, keep, small, giou, pred.grad]
    assert 3 < len(res[zeroin][3]) <= 10 and 0 < len(res[zeroin][4]) < len(res[zeroin][0])
    assert res[zeroin][3].dtype == res[zeroin][4].dtype == zeroin.int64
    _same(res)


def test_vision_ops_new_errors():
    from zeroin.vision import ops
    x = zeroin.zeros(3, 4)
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: .*reduction.*'avg'"):
        ops.sigmoid_focal_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: .*\(3, 4\) and \(4, 3\)"):
        ops.sigmoid_focal_loss(x, zeroin.zeros(4, 3))
    with pytest.raises(ValueError, match=r"generalized_box_iou: boxes2 .*\(N, 4\).*\(4, 3\)"):
        ops.generalized_box_iou(x, zeroin.zeros(4, 3))
    with pytest.raises(ValueError, match=r"clip_boxes_to_image: .*\(\.\.\., 4\).*\(3, 5\)"):
        ops.clip_boxes_to_image(zeroin.zeros(3, 5), (8, 8))
    with pytest.raises(ValueError, match=r"remove_small_boxes: .*\(N, 4\)"):
        ops.remove_small_boxes(zeroin.zeros(4), 1.0)


def test_nms_float32_boxes_at_the_threshold():
    """torchvision's kernel computes the IoU in the boxes' dtype: float32 boxes whose
    float32 IoU equals the threshold are kept (``ovr > threshold`` is false) even where
    the IoU in float64 is a hair above it."""
    import zeroin.vision as torchvision
    rng = np.random.default_rng(12)
    found = 0
    for _ in range(400):
        b = np.sort(rng.uniform(0, 30, (2, 2, 2)), axis=1).transpose(0, 2, 1).reshape(2, 4)
        b = b[:, [0, 2, 1, 3]].astype(np.float32)            # (x1, y1, x2, y2)
        iou32 = box_iou_torch(torch.tensor(b[:1]), torch.tensor(b[1:]))[0, 0].item()
        iou64 = box_iou_torch(torch.tensor(b[:1], dtype=torch.float64),
                              torch.tensor(b[1:], dtype=torch.float64))[0, 0].item()
        if not 0 < iou32 < iou64:
            continue
        found += 1
        sc = np.array([0.9, 0.8], np.float32)
        want = nms_torch(torch.tensor(b), torch.tensor(sc), iou32)
        assert want.tolist() == [0, 1]
        got = torchvision.ops.nms(zeroin.tensor(b), zeroin.tensor(sc), iou32)
        assert _np(got).tolist() == want.tolist()
        got = torchvision.ops.batched_nms(zeroin.tensor(b), zeroin.tensor(sc),
                                          zeroin.tensor([0, 0]), iou32)
        assert _np(got).tolist() == batched_nms_torch(torch.tensor(b), torch.tensor(sc),
                                                      torch.tensor([0, 0]), iou32).tolist()
    assert found > 20
