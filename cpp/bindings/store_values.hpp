// The store's results as Python values (a store call's completion builds its value with these,
// under the GIL), and Python's rows as the store's inputs.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "expstream/store.hpp"

namespace expstream::bindings {

pybind11::object to_python(const Experiment& e);
pybind11::object to_python(const StatusChange& c);
pybind11::object to_python(const std::vector<NodeCount>& counts);
pybind11::object to_python(const std::optional<Experiment>& e);
pybind11::object to_python(const std::vector<Experiment>& list);
pybind11::object to_python(const IngestResult& r);
pybind11::object to_python(bool b);
pybind11::object to_python(const std::string& json);

// (key, name, kind, event_type, role, direction, cap or None, numerator, denominator), as the
// Python layer validated them.
using MetricRow = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                             std::optional<double>, std::string, std::string>;
std::vector<MetricSpec> to_metrics(const std::vector<MetricRow>& rows);

// None for an absent string.
pybind11::object optional_str(const std::optional<std::string>& s);

// Exception texts may quote anything (a server message in another encoding): never fail drain().
pybind11::str lossy_str(const std::string& s);

}  // namespace expstream::bindings
