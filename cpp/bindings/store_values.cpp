// The store's results as Python values, and Python's rows as the store's inputs.
#include "store_values.hpp"

#include <pybind11/stl.h>

namespace py = pybind11;

namespace expstream::bindings {
namespace {

py::dict experiment_dict(const Experiment& e) {
    py::list variants;
    for (const auto& v : e.variants) {
        py::dict d;
        d["key"] = v.key;
        d["name"] = v.name;
        d["is_control"] = v.is_control;
        d["weight"] = v.weight;
        variants.append(d);
    }
    py::list metrics;
    for (const auto& m : e.metrics) {
        py::dict d;
        d["key"] = m.key;
        d["name"] = m.name;
        d["kind"] = m.kind;
        d["role"] = m.role;
        d["direction"] = m.direction;
        if (m.kind == "ratio") {
            d["numerator"] = m.numerator;
            d["denominator"] = m.denominator;
        } else {
            d["event_type"] = m.event_type;
        }
        d["cap"] = m.cap ? py::object(py::float_(*m.cap)) : py::object(py::none());
        metrics.append(d);
    }
    py::dict d;
    d["id"] = e.id;
    d["name"] = e.name;
    d["status"] = e.status;
    d["created_at"] = e.created_at;
    d["activated_at"] = optional_str(e.activated_at);
    d["seq"] = e.seq;
    d["tenant"] = optional_str(e.tenant);
    d["variants"] = variants;
    d["metrics"] = metrics;
    d["exposures"] = e.exposures;
    py::dict analysis;
    analysis["cuped"] = e.cuped;
    d["analysis"] = analysis;
    d["dimensions"] = e.dimensions;
    return d;
}

}  // namespace

py::object to_python(const Experiment& e) { return experiment_dict(e); }
py::object to_python(const StatusChange& c) {
    return py::make_tuple(experiment_dict(c.experiment), c.previous_status, c.changed_at);
}
py::object to_python(const std::vector<NodeCount>& counts) {
    py::list out;
    for (const auto& n : counts)
        out.append(py::make_tuple(n.experiment_id, optional_str(n.tenant), n.subscribers));
    return out;
}
py::object to_python(const std::optional<Experiment>& e) { return e ? py::object(experiment_dict(*e)) : py::none(); }
py::object to_python(const std::vector<Experiment>& list) {
    py::list out;
    for (const auto& e : list) out.append(experiment_dict(e));
    return out;
}
py::object to_python(const IngestResult& r) {
    py::dict d;
    d["accepted"] = r.accepted;
    d["duplicates"] = r.duplicates;
    d["changed"] = r.changed;
    d["alerting"] = r.alerting;
    return d;
}
py::object to_python(bool b) { return py::bool_(b); }

std::vector<MetricSpec> to_metrics(const std::vector<MetricRow>& rows) {
    std::vector<MetricSpec> out;
    for (const auto& [key, name, kind, event_type, role, direction, cap, numerator, denominator] : rows)
        out.push_back(MetricSpec{key, name, kind, event_type, role, direction, cap, numerator, denominator});
    return out;
}
py::object to_python(const std::string& json) { return py::str(json); }

py::object optional_str(const std::optional<std::string>& s) { return s ? py::object(py::str(*s)) : py::none(); }

py::str lossy_str(const std::string& s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
    if (!o) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(o);
}

}  // namespace expstream::bindings
