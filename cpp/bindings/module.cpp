// The extension module only wires the areas together; each area binds itself.
#include <pybind11/pybind11.h>

#include "register.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "expstream C++ core: statistics, snapshot JSON, client protocol, store and runtime";
    expstream::bindings::register_stats(m);
    expstream::bindings::register_service(m);
    expstream::bindings::register_webhooks(m);
}
