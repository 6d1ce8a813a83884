"""Writes legacy torch.save files (the pre-1.6 stream format, and the older tar format) WITHOUT torch,
with CPython's own pickle and tarfile, following torch/serialization.py (`_legacy_save`, and the tar
layout `legacy_load` reads). Fake `torch` modules stand in for the globals the pickles name
(torch.FloatStorage, torch._utils._rebuild_tensor_v2, ...), so CPython's pickler writes the very opcodes,
memo and persistent ids torch's would. Used by packages/core/test/io-torch-legacy.test.ts to check the
TypeScript loader against bytes it did not write itself.

    python3 legacy_torch_save.py OUT_DIR     # writes stream.pt, tar.pt and expected.json
"""
import collections
import io
import json
import pickle
import struct
import sys
import tarfile
import types

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001


def install_fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils

    def make_storage(name, fmt, size):
        cls = type(name, (), {"__module__": "torch", "fmt": fmt, "element_size": size})
        setattr(torch, name, cls)
        return cls

    def make_tensor_type(name):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
        return cls

    def _rebuild_tensor_v2(*args):  # never called: only pickled by reference
        raise RuntimeError("fake")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    return {
        "FloatStorage": make_storage("FloatStorage", "f", 4),
        "LongStorage": make_storage("LongStorage", "q", 8),
        "FloatTensor": make_tensor_type("FloatTensor"),
        "LongTensor": make_tensor_type("LongTensor"),
        "rebuild": _rebuild_tensor_v2,
    }


T = install_fake_torch()


class Storage:
    """A root storage (values) or a view of one (root, offset, size), as torch's legacy storages."""

    def __init__(self, cls, values=None, root=None, offset=0, size=None):
        self.cls, self.values, self.root, self.offset = cls, values, root, offset
        self.size = len(values) if values is not None else size

    def raw(self):
        return struct.pack("<%d%s" % (len(self.values), self.cls.fmt), *self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce__(self):  # as torch.Tensor._reduce_ex_internal for a CPU tensor
        return (T["rebuild"], (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


def legacy_save_stream(obj, f):
    """torch.serialization._legacy_save, for Storage/Tensor stand-ins."""
    serialized_storages = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                root = o.root or o
                root_key = str(id(root))
                view_metadata = None
                if o.root is not None:
                    view_metadata = (str(id(o)), o.offset, o.size)
                serialized_storages[root_key] = root
                return ("storage", o.cls, root_key, "cpu", root.size, view_metadata)
            return None

    sys_info = dict(protocol_version=PROTOCOL_VERSION, little_endian=sys.byteorder == "little",
                    type_sizes=dict(short=2, int=4, long=4))
    pickle.dump(MAGIC_NUMBER, f, protocol=2)
    pickle.dump(PROTOCOL_VERSION, f, protocol=2)
    pickle.dump(sys_info, f, protocol=2)
    Pickler(f, protocol=2).dump(obj)
    keys = sorted(serialized_storages.keys())
    pickle.dump(keys, f, protocol=2)
    for key in keys:
        s = serialized_storages[key]
        f.write(struct.pack("<q", s.size))  # storage._write_file: int64 element count, then the bytes
        f.write(s.raw())


def legacy_save_tar(obj, f):
    """The tar layout torch <= 0.3 wrote and `legacy_load` still reads."""
    tensors = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Tensor):
                tensors[id(o)] = o
                return str(id(o))
            return None

    pk = io.BytesIO()
    Pickler(pk, protocol=2).dump(obj)
    roots = {}
    views = {}
    for t in tensors.values():
        s = t.storage
        if s.root is None:
            roots[id(s)] = s
        else:
            roots[id(s.root)] = s.root
            views[id(s)] = s
    st = io.BytesIO()
    pickle.dump(len(roots), st, protocol=2)
    for key, s in roots.items():
        pickle.dump((key, "cpu", s.cls), st, protocol=2)
        st.write(struct.pack("<q", s.size))
        st.write(s.raw())
    pickle.dump([(key, id(v.root), v.offset, v.size) for key, v in views.items()], st, protocol=2)
    te = io.BytesIO()
    pickle.dump(len(tensors), te, protocol=2)
    for key, t in tensors.items():
        tensor_type = T["FloatTensor"] if t.storage.cls is T["FloatStorage"] else T["LongTensor"]
        pickle.dump((key, id(t.storage), tensor_type), te, protocol=2)
        te.write(struct.pack("<ii", len(t.size), 0))
        te.write(struct.pack("<%dq" % len(t.size), *t.size))
        te.write(struct.pack("<%dq" % len(t.stride), *t.stride))
        te.write(struct.pack("<q", t.offset))
    sys_info = io.BytesIO()
    pickle.dump(dict(protocol_version=PROTOCOL_VERSION, little_endian=True, type_sizes=dict(short=2, int=4, long=4)), sys_info, protocol=2)
    with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, buf in (("sys_info", sys_info), ("pickle", pk), ("storages", st), ("tensors", te)):
            data = buf.getvalue()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def main(out):
    w = Storage(T["FloatStorage"], [i * 0.25 - 1 for i in range(20)])
    v = Storage(T["FloatStorage"], root=w, offset=8, size=6)
    n = Storage(T["LongStorage"], [-5, 2 ** 40, 7])
    obj = {
        "state_dict": collections.OrderedDict([
            ("conv.weight", Tensor(w, 0, [2, 2, 5], [10, 5, 1])),
            ("fc.weight", Tensor(w, 0, [5, 4], [1, 5])),  # transposed view
            ("view", Tensor(v, 1, [2, 2], [2, 1])),       # a tensor on a storage view
            ("steps", Tensor(n, 0, [3], [1])),
        ]),
        "epoch": 7,
        "name": "inception",
    }
    with open(f"{out}/stream.pt", "wb") as f:
        legacy_save_stream(obj, f)
    with open(f"{out}/tar.pt", "wb") as f:
        legacy_save_tar(obj, f)

    def values(t):
        flat = t.storage.values if t.storage.root is None else t.storage.root.values[t.storage.offset:t.storage.offset + t.storage.size]
        out = []

        def walk(d, off):
            if d == len(t.size):
                out.append(flat[off])
                return
            for i in range(t.size[d]):
                walk(d + 1, off + i * t.stride[d])

        walk(0, t.offset)
        return out

    expected = {"tensors": {f"state_dict.{k}": {"shape": list(t.size), "data": values(t)} for k, t in obj["state_dict"].items()},
                "epoch": 7, "name": "inception"}
    with open(f"{out}/expected.json", "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
