// Pure functions: statistics, snapshot JSON and client-message parsing.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "expstream/protocol.hpp"
#include "expstream/snapshot.hpp"
#include "expstream/stats.hpp"
#include "register.hpp"

namespace py = pybind11;

namespace expstream::bindings {

namespace {
std::vector<VariantCounts> to_counts(const std::vector<py::tuple>& rows) {
    std::vector<VariantCounts> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
        if (r.size() != 5) throw py::value_error("variant tuple must be (key, name, is_control, participants, conversions)");
        out.push_back(VariantCounts{r[0].cast<std::string>(), r[1].cast<std::string>(), r[2].cast<bool>(),
                                    r[3].cast<std::int64_t>(), r[4].cast<std::int64_t>()});
    }
    return out;
}
}  // namespace

AnalysisOptions analysis_options(const std::string& method, double alpha, double sequential_tuning,
                                 const std::string& correction) {
    if (method != "fixed" && method != "sequential")
        throw py::value_error("method must be 'fixed' or 'sequential', not '" + method + "'");
    if (correction != "none" && correction != "holm" && correction != "bh")
        throw py::value_error("correction must be 'none', 'holm' or 'bh', not '" + correction + "'");
    AnalysisOptions options;
    options.method = method == "fixed" ? Method::Fixed : Method::Sequential;
    options.alpha = alpha;
    options.sequential_tuning = sequential_tuning;
    options.correction = *parse_correction(correction);
    if (auto problem = validate(options)) throw py::value_error(*problem);
    return options;
}

void register_stats(py::module_& m) {
    m.def("normal_sf", &normal_sf, py::arg("z"));
    m.def("two_proportion_p_value", &two_proportion_p_value, py::arg("n_control"), py::arg("c_control"),
          py::arg("n_variant"), py::arg("c_variant"));

    // Builds a snapshot from plain counts: what the runtime does after its database read.
    m.def(
        "snapshot_json",
        [](const std::string& experiment_id, const std::string& status, const std::vector<py::tuple>& variants,
           std::int64_t days_running, std::int64_t seq, double alpha, const std::string& timestamp,
           const std::string& method, double sequential_tuning, const std::string& correction,
           const std::vector<double>& weights, const std::vector<std::optional<double>>& previous_min_p) {
            const AnalysisOptions options = analysis_options(method, alpha, sequential_tuning, correction);
            auto counts = to_counts(variants);
            std::string json;
            {
                const py::gil_scoped_release release;  // pure C++ from here on
                Snapshot s = make_snapshot(experiment_id, status, counts, weights, options, previous_min_p,
                                           days_running, seq);
                if (!timestamp.empty()) s.timestamp = timestamp;
                json = to_json(s);
            }
            return json;
        },
        py::arg("experiment_id"), py::arg("status"), py::arg("variants"), py::arg("days_running") = 0,
        py::arg("seq") = 0, py::arg("alpha") = 0.05, py::arg("timestamp") = "", py::arg("method") = "fixed",
        py::arg("sequential_tuning") = 5000.0, py::arg("correction") = "holm",
        py::arg("weights") = std::vector<double>{}, py::arg("previous_min_p") = std::vector<std::optional<double>>{});

    m.def("error_json", &error_json, py::arg("code"), py::arg("experiment_id"), py::arg("message"));
    m.def("pong_json", []() { return pong_json(); });

    py::enum_<ClientAction>(m, "ClientAction")
        .value("PING", ClientAction::Ping)
        .value("REFRESH", ClientAction::Refresh)
        .value("AUTH", ClientAction::Auth)
        .value("SUBSCRIBE", ClientAction::Subscribe)
        .value("UNSUBSCRIBE", ClientAction::Unsubscribe)
        .value("RESUME", ClientAction::Resume)
        .value("IGNORED", ClientAction::Ignored);
    // Returns (action, reason it was ignored or "", experiment_id or "", token or "", seq or None).
    // max_bytes is the app's EXPSTREAM_WS_MAX_MESSAGE_BYTES: longer text is ignored as "too_large".
    m.def(
        "parse_client_message",
        [](std::string_view text, std::size_t max_bytes) {
            ClientMessage msg = parse_client_message(text, max_bytes);
            return py::make_tuple(msg.action, msg.error, msg.experiment_id, msg.token, msg.seq, msg.dimension);
        },
        py::arg("text"), py::arg("max_bytes"));
}

}  // namespace expstream::bindings
