"""A reference for fuzzing the TypeScript pickle VM: CPython's own pickle machine, restricted to the same
allowlist (torch.load(weights_only=True)'s), with every allowlisted global stubbed (nothing is imported
or run). For each *.pkl file of a directory it prints one JSON line: {"file", "ok", "value"} where value
is a simplified form of what the pickle builds (dicts, lists, scalars; tensors as {"tensor": shape}), or
{"file", "ok": false, "error"} when CPython refuses the pickle.

    python3 pickle_oracle.py DIR ALLOWLIST.json
"""
import io
import json
import math
import os
import pickle
import sys

IMPORT_MAPPING = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class Call:
    """What calling a stubbed global built: name, args, and any items/state set on it later."""

    def __init__(self, name, args):
        self.name, self.args, self.items, self.state = name, args, [], None

    def __setitem__(self, k, v):
        self.items.append((k, v))

    def __setstate__(self, state):
        self.state = state


def marker(full):
    class Marker:
        def __new__(cls, *args):
            return Call(full, args)

    Marker.full = full
    return Marker


class Storage:
    def __init__(self, pid):
        self.pid = pid


class Restricted(pickle.Unpickler):
    allowed = set()

    def find_class(self, module, name):
        module = IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if full not in self.allowed:
            raise pickle.UnpicklingError(f"unsafe global {full}")
        return marker(full)

    def persistent_load(self, pid):
        return Storage(pid)


def keystr(k):
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, float) and k.is_integer() and abs(k) < 1e21:
        return str(int(k))
    if isinstance(k, (tuple, list)):
        return ",".join(keystr(x) for x in k)
    return str(k)


def simplify(v, depth=0):
    if depth > 200:
        raise ValueError("too deep")
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) < 2 ** 53 else f"{v}n"
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else ("Infinity" if v == math.inf else "-Infinity" if v == -math.inf else v)
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": list(v)}
    if isinstance(v, (list, tuple)):
        return [simplify(x, depth + 1) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"set": len(v)}
    if isinstance(v, dict):
        return {keystr(k): simplify(x, depth + 1) for k, x in v.items()}
    if isinstance(v, Storage):
        return {"storage": keystr(v.pid[2]) if isinstance(v.pid, tuple) and len(v.pid) > 2 else None}
    if isinstance(v, Call):
        if v.name in ("collections.OrderedDict", "collections.Counter"):
            d = {}
            if v.args and isinstance(v.args[0], dict):
                d.update({keystr(k): x for k, x in v.args[0].items()})
            elif v.args and isinstance(v.args[0], (list, tuple)):
                d.update({keystr(p[0]): p[1] for p in v.args[0]})
            d.update({keystr(k): x for k, x in v.items})
            return {k: simplify(x, depth + 1) for k, x in d.items()}
        if v.name in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v3"):
            return {"tensor": list(v.args[2])}
        if v.name in ("torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.nn.parameter.Parameter"):
            return simplify(v.args[0], depth + 1)
        return {"call": v.name}
    return {"object": type(v).__name__}


def main(directory, allowlist):
    Restricted.allowed = set(json.load(open(allowlist)))
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".pkl"):
            continue
        data = open(os.path.join(directory, name), "rb").read()
        try:
            f = io.BytesIO(data)
            value = Restricted(f).load()
            print(json.dumps({"file": name, "ok": True, "value": simplify(value)}))
        except Exception as e:  # CPython refused it (or it is not representable)
            print(json.dumps({"file": name, "ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"}))


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    main(sys.argv[1], sys.argv[2])
