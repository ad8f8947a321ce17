"""Run by the C-extension check in a venv of the runtime under test, once pip has built and
installed the package's wheel (its file name is argv[1]): imports the modules, and prints one line
that starts "built and imported" when everything holds (stdlib only, Python 3.8+)."""

import os
import sys
import sysconfig
import warnings

wheel = os.path.basename(sys.argv[1])
# The wheel is tagged for this ABI: cp313-cp313t on a free-threaded 3.13 (PEP 703's "t").
abi = "cp%d%d%s" % (sys.version_info[0], sys.version_info[1], sys.abiflags)
assert "-%s-" % abi in wheel, "the wheel %s is not tagged %s" % (wheel, abi)
import pyruntimes_cext as m  # noqa: E402

assert m.add(2, 3) == 5
assert m.compiled_for == sys.version.split()[0], m.compiled_for
said = ["built and imported %s (wheel %s)" % (m.__file__, wheel)]
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    assert not sys._is_gil_enabled(), "the GIL is on after importing a module that declares Py_mod_gil"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import pyruntimes_cext_gil  # noqa: F401
    assert sys._is_gil_enabled(), "importing a module without Py_mod_gil left the GIL off"
    warned = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning) and "GIL" in str(w.message)]
    assert warned, "no RuntimeWarning about the GIL: %s" % [str(w.message) for w in caught]
    said.append("the GIL stayed off with Py_mod_gil declared; a module without it turned it on, warning %r"
                % warned[0][:80])
print("; ".join(said))
