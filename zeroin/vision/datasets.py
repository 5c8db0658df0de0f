"""torchvision's ``ImageFolder``: one folder per class, images read with Pillow."""
from __future__ import annotations

import os

from ..data.dataset import Dataset

__all__ = ["ImageFolder", "IMG_EXTENSIONS", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("ImageFolder reads images with Pillow, which is not installed: "
                          "pip install pillow") from None
    return Image


def pil_loader(path):
    """The image at ``path`` as an RGB PIL image (torchvision's default loader)."""
    Image = _pil()
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def _find_classes(root):
    if not os.path.isdir(root):
        raise FileNotFoundError(f"ImageFolder: root {root!r} is not a folder; expected "
                                f"root/<class name>/<image files>")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"ImageFolder: found no class folder in {root!r}; expected "
                                f"root/<class name>/<image files>")
    return classes, {name: i for i, name in enumerate(classes)}


def _make_samples(root, class_to_idx, is_valid_file, extensions, allow_empty):
    samples, empty = [], []
    for name in sorted(class_to_idx):
        found = 0
        for folder, _, files in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for fname in sorted(files):
                path = os.path.join(folder, fname)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        what = f"extensions {', '.join(extensions)}" if extensions else "is_valid_file"
        raise FileNotFoundError(f"ImageFolder: found no valid file for the classes "
                                f"{', '.join(empty)} in {root!r} (supported: {what}); pass "
                                f"allow_empty=True to keep empty classes")
    return samples


class ImageFolder(Dataset):
    """Images laid out as ``root/<class>/<file>``, as torchvision's ``ImageFolder``.

    ``classes`` are the folder names sorted, ``class_to_idx`` maps each to its index,
    ``samples`` (also ``imgs``) lists ``(path, class_index)`` in sorted order and
    ``targets`` the class indices. ``dataset[i]`` is ``(transform(image), target)`` with
    the image loaded by ``loader`` (default: Pillow, converted to RGB). Files of other
    extensions than :data:`IMG_EXTENSIONS` (case-insensitive) are skipped.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None,
                 is_valid_file=None, allow_empty=False):
        self.root = os.fspath(root)
        self.transform, self.target_transform = transform, target_transform
        self.loader = pil_loader if loader is None else loader
        if is_valid_file is None:
            self.extensions = IMG_EXTENSIONS
            def is_valid_file(path):
                return path.lower().endswith(IMG_EXTENSIONS)
        else:
            self.extensions = None
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = _make_samples(self.root, self.class_to_idx, is_valid_file,
                                     self.extensions, allow_empty)
        self.imgs = self.samples
        self.targets = [target for _, target in self.samples]

    def find_classes(self, directory):
        """``(classes, class_to_idx)`` for ``directory``: its subfolders, sorted (override
        it to choose the classes, as in torchvision)."""
        return _find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        lines = ["Dataset ImageFolder", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        if self.transform is not None:
            lines.append("    Transform: " + repr(self.transform).replace("\n", "\n    "))
        return "\n".join(lines)
