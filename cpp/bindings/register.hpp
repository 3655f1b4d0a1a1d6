#pragma once

#include <pybind11/pybind11.h>

namespace expstream::bindings {
void register_stats(pybind11::module_& m);
void register_service(pybind11::module_& m);
}  // namespace expstream::bindings
