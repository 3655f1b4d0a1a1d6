#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "expstream/stats.hpp"

namespace expstream::bindings {
void register_stats(pybind11::module_& m);
void register_service(pybind11::module_& m);
void register_webhooks(pybind11::module_& m);

// Options from their Python spellings; raises ValueError for invalid ones.
AnalysisOptions analysis_options(const std::string& method, double alpha, double sequential_tuning,
                                 const std::string& correction);
}  // namespace expstream::bindings
