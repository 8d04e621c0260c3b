"""The few libbpf calls the fast-path tests need, through ctypes: open and load an object, find
its maps and program, update/look up/delete map entries, and BPF_PROG_TEST_RUN.

ctypes rather than a C driver: the frames come from scapy in the same process, the checks are
plain Python, and there is nothing to compile. The one layout that must match libbpf's is
`bpf_test_run_opts`, which libbpf checks by its `sz` field (OPTS_VALID)."""
import ctypes
import ctypes.util
import os

_lib = ctypes.CDLL(ctypes.util.find_library("bpf") or "libbpf.so.1", use_errno=True)

_lib.bpf_object__open_file.restype = ctypes.c_void_p
_lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
_lib.libbpf_get_error.restype = ctypes.c_long
_lib.libbpf_get_error.argtypes = [ctypes.c_void_p]
_lib.bpf_object__load.argtypes = [ctypes.c_void_p]
_lib.bpf_object__close.argtypes = [ctypes.c_void_p]
_lib.bpf_object__find_program_by_name.restype = ctypes.c_void_p
_lib.bpf_object__find_program_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.bpf_program__fd.argtypes = [ctypes.c_void_p]
_lib.bpf_object__find_map_fd_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.bpf_object__find_map_by_name.restype = ctypes.c_void_p
_lib.bpf_object__find_map_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.bpf_map__reuse_fd.argtypes = [ctypes.c_void_p, ctypes.c_int]
_lib.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
_lib.bpf_map_lookup_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_lib.bpf_map_delete_elem.argtypes = [ctypes.c_int, ctypes.c_void_p]
_lib.libbpf_num_possible_cpus.restype = ctypes.c_int
_lib.libbpf_set_print.restype = ctypes.c_void_p
_lib.libbpf_set_print.argtypes = [ctypes.c_void_p]


class TestRunOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


_lib.bpf_prog_test_run_opts.argtypes = [ctypes.c_int, ctypes.POINTER(TestRunOpts)]

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
NCPUS = _lib.libbpf_num_possible_cpus()


class BPFError(Exception):
    pass


def _check(rc, what):
    if rc < 0:
        raise BPFError(f"{what}: {os.strerror(-rc if rc != -1 else ctypes.get_errno())}")
    return rc


class BPFObject:
    """One loaded object. `reuse`: map name -> fd of maps another object created (shared)."""

    def __init__(self, path, reuse=None):
        obj = _lib.bpf_object__open_file(path.encode(), None)
        if not obj or _lib.libbpf_get_error(obj):
            raise BPFError(f"cannot open {path}")
        self.obj = obj
        for name, fd in (reuse or {}).items():
            m = _lib.bpf_object__find_map_by_name(obj, name.encode())
            if not m:
                raise BPFError(f"no map {name}")
            _check(_lib.bpf_map__reuse_fd(m, fd), f"reuse {name}")
        _check(_lib.bpf_object__load(obj), f"load {path} (the verifier's log: run with LIBBPF_LOG=1)")

    def prog_fd(self, name):
        p = _lib.bpf_object__find_program_by_name(self.obj, name.encode())
        if not p:
            raise BPFError(f"no program {name}")
        return _lib.bpf_program__fd(p)

    def map_fd(self, name):
        return _check(_lib.bpf_object__find_map_fd_by_name(self.obj, name.encode()), f"map {name}")

    def close(self):
        if self.obj:
            _lib.bpf_object__close(self.obj)
            self.obj = None


def update(fd, key: bytes, value: bytes):
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(value, len(value))
    rc = _lib.bpf_map_update_elem(fd, k, v, 0)
    if rc < 0:
        raise BPFError(f"update: {os.strerror(ctypes.get_errno())}")


def lookup(fd, key: bytes, size: int):
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(size)
    if _lib.bpf_map_lookup_elem(fd, k, v) < 0:
        return None
    return v.raw


def lookup_percpu(fd, key: bytes, size: int):
    """The value of each possible CPU (each rounded up to 8 bytes, as the kernel lays them out)."""
    stride = (size + 7) & ~7
    raw = lookup(fd, key, stride * NCPUS)
    return None if raw is None else [raw[i * stride:i * stride + size] for i in range(NCPUS)]


def delete(fd, key: bytes):
    k = ctypes.create_string_buffer(key, len(key))
    _lib.bpf_map_delete_elem(fd, k)


def test_run(prog_fd, data: bytes, out_size=None):
    """BPF_PROG_TEST_RUN once: (return code, bytes out). XDP's bytes out start at data_meta,
    so metadata the program added comes first."""
    buf_in = ctypes.create_string_buffer(data, len(data))
    out_size = out_size or len(data) + 256
    buf_out = ctypes.create_string_buffer(out_size)
    o = TestRunOpts()
    o.sz = ctypes.sizeof(TestRunOpts)
    o.data_in = ctypes.cast(buf_in, ctypes.c_void_p)
    o.data_out = ctypes.cast(buf_out, ctypes.c_void_p)
    o.data_size_in = len(data)
    o.data_size_out = out_size
    o.repeat = 1
    rc = _lib.bpf_prog_test_run_opts(prog_fd, ctypes.byref(o))
    if rc < 0:
        raise BPFError(f"test_run: {os.strerror(ctypes.get_errno())}")
    return o.retval, buf_out.raw[:o.data_size_out]
