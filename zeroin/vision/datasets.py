"""torchvision's ``ImageFolder`` (one folder per class, images read with Pillow),
``CIFAR10`` (from the binary version of the data set; no pickle), ``MNIST`` and
``FashionMNIST`` (torchvision's folder layout of IDX files), ``CelebA`` (its folder of
images and tables) and ``FakeData`` (random images, nothing to read)."""
from __future__ import annotations

import os

import numpy as np

from ..data.dataset import Dataset

__all__ = ["ImageFolder", "CIFAR10", "MNIST", "FashionMNIST", "CelebA", "FakeData",
           "IMG_EXTENSIONS", "pil_loader"]

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


class _VisionDataset(Dataset):
    """What torchvision's image data sets share: ``transform`` / ``target_transform``
    applied to each item, ``len`` of ``data``, and the printed summary."""

    def _transformed(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _extra_lines(self):
        return [f"    Split: {'Train' if self.train else 'Test'}"]

    def __repr__(self):
        return "\n".join([f"Dataset {type(self).__name__}",
                          f"    Number of datapoints: {len(self)}",
                          f"    Root location: {self.root}"] + self._extra_lines())


class FakeData(_VisionDataset):
    """torchvision's ``FakeData``: ``size`` items, each a PIL image made from
    ``randn(*image_size)`` in float32, times 255, truncated and wrapped to uint8 (as
    torchvision's ``byte()``), and a label below ``num_classes``, drawn from a generator
    seeded with ``index + random_offset`` (the same item each time; the shared generator is
    left alone). On the torch stream (``zeroin.random.use_torch_stream``) the items are
    torchvision's; on NumPy's they are zeroin's own."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = int(size), tuple(image_size), num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset, self.root = random_offset, None

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        from .. import Generator, float32, int64, randint, randn
        from .transforms.functional import to_pil_image
        if index >= self.size:          # torchvision's check: a negative index is a seed too
            raise IndexError(f"FakeData index {index} out of range (size {self.size})")
        g = Generator().manual_seed(index + self.random_offset)
        img = randn(*self.image_size, generator=g, dtype=float32)
        target = randint(0, self.num_classes, size=(1,), dtype=int64, generator=g)[0]
        pixels = (np.trunc(np.asarray(img.data) * np.float32(255)).astype(np.int64) % 256)
        img = to_pil_image(np.moveaxis(pixels.astype(np.uint8), 0, -1))
        return self._transformed(img, target.item())

    def _extra_lines(self):
        return []

    def __repr__(self):
        return f"Dataset FakeData\n    Number of datapoints: {len(self)}"


class ImageFolder(_VisionDataset):
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
        return self._transformed(self.loader(path), target)

    def __len__(self):
        return len(self.samples)

    def _extra_lines(self):
        if self.transform is None:
            return []
        return ["    Transform: " + repr(self.transform).replace("\n", "\n    ")]


# --- CIFAR-10 ------------------------------------------------------------------------------

_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch.bin"]
_CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"     # cifar-10-binary.tar.gz, as published


def _cifar_how(root, url):
    return (f"download {url} and unpack it in {root} (it holds the folder {_CIFAR_DIR}), or "
            f"pass download=True")


def _fetch(url, timeout):
    """The bytes at ``url`` (the one place the data sets touch the network)."""
    import urllib.error
    import urllib.request

    from ..data.mnist import DownloadError
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DownloadError(f"could not download {url}: {getattr(e, 'reason', e)}") from None


def _fetch_md5(op, url, md5, timeout=60):
    """``_fetch(url)``, checked against torchvision's MD5 ``md5`` (nothing is saved when it
    differs)."""
    import hashlib

    from ..data.mnist import DatasetError
    data = _fetch(url, timeout)
    got = hashlib.md5(data, usedforsecurity=False).hexdigest()     # as torchvision
    if got != md5:
        raise DatasetError(f"{op}: {url} has MD5 {got}, expected {md5} (torchvision's "
                           f"checksum): the download is truncated or not the file it should "
                           f"be; nothing was saved. Try again, or fetch it by hand")
    return data


def _cifar_download(root, url, timeout=60):
    """Fetch the binary CIFAR-10 archive (MD5-checked) and write its .bin files under
    root/_CIFAR_DIR (each file atomically; only those names are read from the archive)."""
    import io
    import tarfile

    from ..data.mnist import DownloadError, _atomic_write
    try:
        data = _fetch_md5("CIFAR10", url, _CIFAR_MD5, timeout)
    except DownloadError as e:
        raise DownloadError(f"CIFAR10: {e}") from None
    os.makedirs(os.path.join(root, _CIFAR_DIR), exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for name in _CIFAR_TRAIN + _CIFAR_TEST + ["batches.meta.txt"]:
                f = tar.extractfile(f"{_CIFAR_DIR}/{name}")
                _atomic_write(os.path.join(root, _CIFAR_DIR, name), f.read())
    except (tarfile.TarError, KeyError) as e:
        raise DownloadError(f"CIFAR10: {url} is not the binary CIFAR-10 archive (a tar.gz "
                            f"holding {_CIFAR_DIR}/*.bin): {e}") from None


def _cifar_read(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise ValueError(f"CIFAR10: {path} holds {raw.size} bytes, not records of 1 label "
                         f"byte + 3072 pixel bytes; the file is truncated or not CIFAR-10's "
                         f"binary version")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0]


class CIFAR10(_VisionDataset):
    """CIFAR-10 as torchvision's ``CIFAR10``: ``dataset[i]`` is ``(transform(PIL image),
    target_transform(label))``; ``data`` is uint8 (N, 32, 32, 3), ``targets`` a list of
    ints, ``classes`` the ten names. Read from the data set's *binary* version
    (``root/cifar-10-batches-bin``): torchvision's python version is pickled, which zeroin
    does not load. ``download=True`` fetches the binary archive from :attr:`url`."""

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        self.root, self.train = os.fspath(root), train
        self.transform, self.target_transform = transform, target_transform
        names = _CIFAR_TRAIN if train else _CIFAR_TEST
        paths = [os.path.join(self.root, _CIFAR_DIR, n) for n in names]
        if download and not all(os.path.isfile(p) for p in paths):
            _cifar_download(self.root, self.url)
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            py = os.path.isdir(os.path.join(self.root, "cifar-10-batches-py"))
            why = (" (found cifar-10-batches-py: torchvision's pickled version, which zeroin "
                   "does not unpickle)" if py else "")
            raise FileNotFoundError(f"CIFAR10: {missing[0]} not found{why}; "
                                    + _cifar_how(self.root, self.url))
        parts = [_cifar_read(p) for p in paths]
        self.data = np.concatenate([d for d, _ in parts])
        self.targets = np.concatenate([t for _, t in parts]).astype(int).tolist()
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        return self._transformed(_pil().fromarray(self.data[index]), self.targets[index])


# --- MNIST and Fashion-MNIST -----------------------------------------------------------------

class MNIST(_VisionDataset):
    """MNIST as torchvision's ``MNIST``: the four IDX files (gzipped or not) in
    ``root/MNIST/raw``; ``dataset[i]`` is ``(transform(PIL image, mode 'L'),
    target_transform(label))``; ``data`` is a uint8 tensor (N, 28, 28), ``targets`` an int64
    tensor, ``classes`` the names. ``download=True`` fetches missing files from
    ``mirrors``, each checked against torchvision's MD5 (``resources``)."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/"]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        from ..data.mnist import _find, read_idx
        from .._tensor import Tensor
        self.root, self.train = os.fspath(root), train
        self.transform, self.target_transform = transform, target_transform
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        paths = [_find(self.raw_folder_path, n) for n in names]
        if download and None in paths:
            self._download(names)
            paths = [_find(self.raw_folder_path, n) for n in names]
        if None in paths:
            missing = names[paths.index(None)]
            raise FileNotFoundError(
                f"{type(self).__name__}: {missing} (gzipped or not) not found in "
                f"{self.raw_folder_path}; pass download=True, or fetch it from "
                f"{self.mirrors[0]} and put it there")
        images, labels = (read_idx(p) for p in paths)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {paths[0]} and {paths[1]} should hold "
                             f"images (n, rows, cols) and labels (n,), got shapes "
                             f"{images.shape} and {labels.shape}")
        self.data = Tensor(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = Tensor(labels.astype(np.int64))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def raw_folder_path(self):
        from pathlib import Path
        return Path(self.root) / type(self).__name__ / "raw"

    def _download(self, names):
        from ..data.mnist import DownloadError, _atomic_write
        md5 = dict(self.resources)
        os.makedirs(self.raw_folder_path, exist_ok=True)
        for name in names:
            dest = self.raw_folder_path / name
            if dest.is_file():
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    data = _fetch_md5(type(self).__name__, mirror + name, md5[name])
                    break
                except DownloadError as e:
                    errors.append(str(e))
            else:
                raise DownloadError(f"{type(self).__name__}: {'; '.join(errors)}; fetch "
                                    f"{name} by hand into {self.raw_folder_path}")
            _atomic_write(dest, data)

    def __getitem__(self, index):
        img = _pil().fromarray(self.data.numpy()[index])       # uint8 (H, W): mode 'L'
        return self._transformed(img, int(self.targets.numpy()[index]))


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando's 28x28 clothes) as torchvision's ``FashionMNIST``: the same
    IDX files and interface as :class:`MNIST`, in ``root/FashionMNIST/raw``; downloads are
    checked against torchvision's MD5s."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]


# --- CelebA ----------------------------------------------------------------------------------

_CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
# target type: (table file, line of its column names; None: no header)
_CELEBA_TABLES = {"attr": ("list_attr_celeba.txt", 1), "identity": ("identity_CelebA.txt", None),
                  "bbox": ("list_bbox_celeba.txt", 1),
                  "landmarks": ("list_landmarks_align_celeba.txt", 1)}


def _celeba_table(path, header):
    """torchvision's ``CelebA._load_csv``: (column names, file names, int64 rows)."""
    with open(path, encoding="utf-8") as f:
        rows = [line.split() for line in f if line.strip()]
    names = rows[header] if header is not None else []
    rows = rows[header + 1:] if header is not None else rows
    data = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int64)
    return names, [r[0] for r in rows], data.reshape(len(rows), -1)


_CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def _celeba_missing(folder, missing, download):
    """The error for CelebA's ``missing`` files: a :class:`DownloadError` when
    ``download=True`` (zeroin cannot fetch them), else ``FileNotFoundError``."""
    from ..data.mnist import DownloadError
    how = (f"get img_align_celeba.zip and the list_*.txt / identity_CelebA.txt files from "
           f"{_CELEBA_URL} (torchvision's download reads them from Google Drive), put them "
           f"in {folder} and unzip the images there")
    if download:
        raise DownloadError(f"CelebA(download=True): zeroin cannot download CelebA (its files "
                            f"are on Google Drive, behind a confirmation page and a quota); "
                            f"missing in {folder}: {', '.join(missing)}; {how}")
    raise FileNotFoundError(f"CelebA: {missing[0]} not found in {folder} (missing: "
                            f"{', '.join(missing)}); {how}")


class CelebA(_VisionDataset):
    """CelebA as torchvision's ``CelebA``, read from ``root/celeba``: the faces in
    ``img_align_celeba/``, ``list_eval_partition.txt`` and the table of each
    ``target_type`` ('attr', 'identity', 'bbox', 'landmarks', or a list of them).
    ``dataset[i]`` is ``(transform(PIL image), target_transform(target))``, the target an
    int64 tensor: the 40 attributes as 0/1 (the file's -1/1; ``attr_names`` names them),
    the identity, the box or the landmarks; a tuple for a list. ``split`` is 'train',
    'valid', 'test' or 'all'. Nothing is downloaded (CelebA's Google Drive quota often refuses
    downloads): put the files there by hand; ``download=True`` with files missing is a
    :class:`~zeroin.data.DownloadError` that says which and where to get them."""

    base_folder = "celeba"

    def __init__(self, root, split="train", target_type="attr", transform=None,
                 target_transform=None, download=False):
        from .._tensor import Tensor
        self.root, self.split = os.fspath(root), split
        self.transform, self.target_transform = transform, target_transform
        self.target_type = [target_type] if isinstance(target_type, str) else list(target_type)
        if split not in _CELEBA_SPLITS or not set(self.target_type) <= set(_CELEBA_TABLES):
            raise ValueError(f"CelebA: split must be one of {list(_CELEBA_SPLITS)} and "
                             f"target_type of {list(_CELEBA_TABLES)}, got split={split!r}, "
                             f"target_type={target_type!r}")
        folder = os.path.join(self.root, self.base_folder)
        files = ["list_eval_partition.txt"] + [_CELEBA_TABLES[t][0] for t in self.target_type]
        missing = [n for n in files + ["img_align_celeba"]
                   if not os.path.exists(os.path.join(folder, n))]
        if missing:
            _celeba_missing(folder, missing, download)
        _, names, part = _celeba_table(os.path.join(folder, files[0]), None)
        keep = (np.ones(len(names), bool) if _CELEBA_SPLITS[split] is None
                else part[:, 0] == _CELEBA_SPLITS[split])
        self.filename = [n for n, k in zip(names, keep) if k]
        for t in self.target_type:
            cols, _, data = _celeba_table(os.path.join(folder, _CELEBA_TABLES[t][0]),
                                          _CELEBA_TABLES[t][1])
            data = (data + 1) // 2 if t == "attr" else data
            setattr(self, "landmarks_align" if t == "landmarks" else t, Tensor(data[keep]))
            if t == "attr":
                self.attr_names = cols

    def __getitem__(self, index):
        with open(os.path.join(self.root, self.base_folder, "img_align_celeba",
                               self.filename[index]), "rb") as f:
            img = _pil().open(f)
            img.load()
        target = [self.identity[index, 0] if t == "identity" else
                  getattr(self, "landmarks_align" if t == "landmarks" else t)[index, :]
                  for t in self.target_type]
        return self._transformed(img, tuple(target) if len(target) > 1 else target[0])

    def __len__(self):
        return len(self.filename)

    def _extra_lines(self):
        return [f"    Split: {self.split}"]
