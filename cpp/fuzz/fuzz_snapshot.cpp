// libFuzzer target: the snapshot writer (snapshot.hpp) and the statistics under it (stats.hpp), driven
// from fuzz bytes: variant keys and names of arbitrary bytes (quotes, backslashes, control characters,
// NUL, broken UTF-8, U+2028), counts from 0 to INT64_MAX and below 0, conversions above participants,
// weights 0 / negative / inf / nan / subnormal, any alpha and sequential tuning, Fixed or Sequential,
// with or without Holm, and any running-minimum history.
//
// Every document written (to_json, history_point_json, srm_anomaly_json, error_json) must parse as JSON
// (simdjson), so never contains NaN or Infinity, and must carry exactly what went in: strings byte for
// byte when they were valid UTF-8, integers exactly, doubles round-tripping exactly (non-finite ->
// null). The analysis keeps stats.hpp's contract: undefined is an empty optional, never NaN/Inf;
// probabilities in [0, 1]; intervals with low <= high.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "expstream/snapshot.hpp"
#include "expstream/stats.hpp"

#define FUZZ_TARGET_NAME "fuzz_snapshot"
#include "fuzz_check.hpp"

using namespace expstream;

namespace {

using fuzz::valid_utf8;

std::string pick_string(FuzzedDataProvider& in) {
    static const char* const palette[] = {
        "control", "treatment", "", "\"", "\\", "\"\\\"", "a\0b", "\n\r\t\b\f\x01\x1f\x7f", "\xE2\x80\xA8\xE2\x80\xA9",
        "\xC3\xA9t\xC3\xA9", "\xF0\x9F\x98\x80", "\xED\xA0\x80", "\xC0\xAF", "\xFF\xFE", "\xE2\x82", "</script>",
        "\\u0000", "NaN", "Infinity"};
    const int kind = in.ConsumeIntegralInRange<int>(0, 3);
    if (kind == 0) {
        const auto i = in.ConsumeIntegralInRange<std::size_t>(0, sizeof palette / sizeof *palette - 1);
        return i == 6 ? std::string("a\0b", 3) : std::string(palette[i]);
    }
    return in.ConsumeRandomLengthString(kind == 3 ? 300 : 24);
}

std::int64_t pick_count(FuzzedDataProvider& in) {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
        case 0: return 0;
        case 1: return in.ConsumeIntegralInRange<std::int64_t>(0, 100);
        case 2: return in.ConsumeIntegralInRange<std::int64_t>(0, 10'000'000);
        case 3: return in.ConsumeIntegralInRange<std::int64_t>(0, std::int64_t{1} << 53);
        case 4: return in.ConsumeIntegralInRange<std::int64_t>(0, kMax);
        case 5: return in.PickValueInArray({kMax, kMax - 1, kMin, std::int64_t{-1}, std::int64_t{1} << 62});
        default: return in.ConsumeIntegral<std::int64_t>();  // negative too
    }
}

double pick_double(FuzzedDataProvider& in) {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
            return in.PickValueInArray({0.0, -0.0, 1.0, 0.5, 2.0, 1e-300, std::numeric_limits<double>::denorm_min(),
                                        std::numeric_limits<double>::max(), kInf, -kInf,
                                        std::numeric_limits<double>::quiet_NaN(), -1.0, 1e16, 123456789012345678.0,
                                        0.05, 0.01, 1e-9, 0.999999999});
        case 1: return in.ConsumeProbability<double>();
        case 2: return in.ConsumeFloatingPoint<double>();
        default: {
            const auto bits = in.ConsumeIntegral<std::uint64_t>();
            double d;
            std::memcpy(&d, &bits, sizeof d);
            return d;
        }
    }
}

std::optional<double> pick_optional_double(FuzzedDataProvider& in) {
    if (in.ConsumeBool()) return std::nullopt;
    return pick_double(in);
}

// ---- checks on the analysis (stats.hpp's contract)

void check_probability(const std::optional<double>& p) {
    if (p) CHECK(std::isfinite(*p) && *p >= 0.0 && *p <= 1.0);
}
void check_finite(const std::optional<double>& x) {
    if (x) CHECK(std::isfinite(*x));
}
void check_interval(const std::optional<Interval>& i) {
    if (i) CHECK(std::isfinite(i->low) && std::isfinite(i->high) && i->low <= i->high);
}

// ---- checks on the JSON

simdjson::dom::parser& parser() {
    static simdjson::dom::parser p;
    return p;
}

// No NaN/Infinity can be in a document simdjson accepted; this also walks every number to be sure.
void check_numbers_finite(simdjson::dom::element e) {
    switch (e.type()) {
        case simdjson::dom::element_type::ARRAY: {
            simdjson::dom::array a;  // a named value: the range must outlive the loop
            CHECK(!e.get_array().get(a));
            for (auto child : a) check_numbers_finite(child);
            break;
        }
        case simdjson::dom::element_type::OBJECT: {
            simdjson::dom::object o;
            CHECK(!e.get_object().get(o));
            for (auto field : o) check_numbers_finite(field.value);
            break;
        }
        case simdjson::dom::element_type::DOUBLE: CHECK(std::isfinite(e.get_double().value_unsafe())); break;
        default: break;
    }
}

simdjson::dom::object parse_object(const std::string& json) {
    // The writer must never emit raw U+2028/U+2029 (they end lines in older JavaScript).
    CHECK(json.find("\xE2\x80\xA8") == std::string::npos && json.find("\xE2\x80\xA9") == std::string::npos);
    simdjson::dom::element doc;
    if (parser().parse(json).get(doc)) {
        std::fprintf(stderr, "not JSON: %s\n", json.c_str());
        fuzz::fail(FUZZ_TARGET_NAME, "output parses as JSON", __LINE__);
    }
    check_numbers_finite(doc);
    simdjson::dom::object obj;
    CHECK(!doc.get_object().get(obj));
    return obj;
}

// A field that must be there.
simdjson::dom::element at(simdjson::dom::object o, std::string_view key) {
    simdjson::dom::element e;
    CHECK(!o.at_key(key).get(e));
    return e;
}
simdjson::dom::element at(simdjson::dom::element e, std::string_view key) {
    simdjson::dom::object o;
    CHECK(!e.get_object().get(o));
    return at(o, key);
}

std::string_view get_string(simdjson::dom::element e) {
    std::string_view s;
    CHECK(!e.get_string().get(s));
    return s;
}
// A string written with append_json_string: identical when the input was valid UTF-8.
void check_string(simdjson::dom::element e, std::string_view original) {
    const std::string_view s = get_string(e);
    if (valid_utf8(original)) {
        CHECK(s == original);
    } else {
        CHECK(s.find("\xEF\xBF\xBD") != std::string_view::npos);  // at least one U+FFFD
    }
}
std::int64_t get_int(simdjson::dom::element e) {
    std::int64_t v;
    CHECK(!e.get_int64().get(v));
    return v;
}
void check_number(simdjson::dom::element e, double original) {
    if (!std::isfinite(original)) {
        CHECK(e.is_null());
        return;
    }
    double v;
    CHECK(!e.get_double().get(v));  // integers written for integral values are accepted here too
    CHECK(v == original);           // shortest round-trip form: exactly the same double
}
void check_optional(simdjson::dom::element e, const std::optional<double>& original) {
    if (!original) {
        CHECK(e.is_null());
    } else {
        check_number(e, *original);
    }
}
void check_interval_json(simdjson::dom::element e, const std::optional<Interval>& original) {
    if (!original) {
        CHECK(e.is_null());
        return;
    }
    simdjson::dom::array a;
    CHECK(!e.get_array().get(a));
    CHECK(a.size() == 2);
    check_number(a.at(0).value_unsafe(), original->low);
    check_number(a.at(1).value_unsafe(), original->high);
}
bool get_bool(simdjson::dom::element e) {
    bool b;
    CHECK(!e.get_bool().get(b));
    return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);

    // One number on its own, the writer's hardest part.
    {
        const double d = pick_double(in);
        std::string out;
        append_json_number(out, d);
        simdjson::dom::element e;
        CHECK(!parser().parse(out).get(e));
        check_number(e, d);
    }

    const std::string experiment_id = pick_string(in);
    const std::string status = in.PickValueInArray<std::string>({"draft", "active", "paused", "completed", ""});
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 6);
    std::vector<VariantCounts> counts(n);
    for (auto& c : counts) {
        c.key = pick_string(in);
        c.name = pick_string(in);
        c.is_control = in.ConsumeBool();
        c.participants = pick_count(in);
        // Mostly the realistic 0 <= conversions <= participants, sometimes anything.
        c.conversions = in.ConsumeBool() && c.participants >= 0
                            ? in.ConsumeIntegralInRange<std::int64_t>(0, c.participants)
                            : pick_count(in);
    }
    std::vector<double> weights;
    const std::size_t nw = in.ConsumeBool() ? n : in.ConsumeIntegralInRange<std::size_t>(0, 7);
    for (std::size_t i = 0; i < nw; ++i) weights.push_back(in.ConsumeBool() ? 1.0 : pick_double(in));

    AnalysisOptions options;
    options.method = in.ConsumeBool() ? Method::Sequential : Method::Fixed;
    options.alpha = in.ConsumeBool() ? in.PickValueInArray({0.05, 0.01, 0.1}) : pick_double(in);
    options.sequential_tuning = in.ConsumeBool() ? 5000.0 : pick_double(in);
    options.correction =
        in.PickValueInArray({Correction::None, Correction::HolmBonferroni, Correction::BenjaminiHochberg});
    std::vector<std::optional<double>> previous_min_p(in.ConsumeIntegralInRange<std::size_t>(0, 7));
    for (auto& p : previous_min_p) p = pick_optional_double(in);
    const std::int64_t days_running = pick_count(in);
    const std::int64_t seq = pick_count(in);

    Snapshot s;
    const bool valid_options = !validate(options);
    try {
        s = make_snapshot(experiment_id, status, counts, weights, options, previous_min_p, days_running, seq);
        CHECK(valid_options);
    } catch (const std::invalid_argument&) {
        CHECK(!valid_options);  // the only documented exception
        return 0;
    }

    // ---- stats.hpp's contract
    const Analysis& a = s.analysis;
    CHECK(a.variants.size() == n);
    CHECK(s.weights.size() == n);
    for (const auto& v : a.variants) {
        CHECK(std::isfinite(v.conversion_rate));
        check_finite(v.relative_lift);
        check_probability(v.p_value);
        check_probability(v.p_value_adjusted);
        check_probability(v.chance_to_win);
        check_interval(v.lift_ci);
        check_interval(v.difference_ci);
        if (v.is_significant) CHECK(v.p_value_adjusted && *v.p_value_adjusted < options.alpha);
    }
    check_probability(s.srm.p_value);
    if (s.srm.mismatch) CHECK(s.srm.p_value.has_value());

    // ---- to_json
    {
        const std::string json = to_json(s);
        const auto o = parse_object(json);
        CHECK(get_string(at(o, "event")) == "results_update");
        check_string(at(o, "experiment_id"), s.experiment_id);
        check_string(at(o, "timestamp"), s.timestamp);
        check_string(at(o, "status"), s.status);
        simdjson::dom::array vs;
        CHECK(!o["variants"].get_array().get(vs));
        CHECK(vs.size() == n);
        std::size_t i = 0;
        for (auto ve : vs) {
            const VariantResult& v = a.variants[i];
            simdjson::dom::object vo;
            CHECK(!ve.get_object().get(vo));
            check_string(at(vo, "key"), counts[i].key);
            check_string(at(vo, "name"), counts[i].name);
            CHECK(get_int(at(vo, "participant_count")) == counts[i].participants);
            CHECK(get_int(at(vo, "conversion_count")) == counts[i].conversions);
            check_number(at(vo, "conversion_rate"), v.conversion_rate);
            check_optional(at(vo, "relative_lift"), v.relative_lift);
            check_optional(at(vo, "p_value"), v.p_value);
            CHECK(get_bool(at(vo, "is_control")) == v.is_control);
            check_number(at(vo, "weight"), s.weights[i]);
            check_interval_json(at(vo, "lift_ci"), v.lift_ci);
            check_interval_json(at(vo, "difference_ci"), v.difference_ci);
            check_optional(at(vo, "p_value_adjusted"), v.p_value_adjusted);
            check_optional(at(vo, "chance_to_win"), v.chance_to_win);
            CHECK(get_bool(at(vo, "is_significant")) == v.is_significant);
            ++i;
        }
        CHECK(get_int(at(o, "total_participants")) == a.total_participants);
        CHECK(get_int(at(o, "days_running")) == days_running);
        CHECK(get_int(at(o, "seq")) == seq);
        CHECK(get_bool(at(o, "is_significant")) == a.is_significant);
        simdjson::dom::object an;
        CHECK(!o["analysis"].get_object().get(an));
        CHECK(get_string(at(an, "method")) == to_string(options.method));
        check_number(at(an, "alpha"), options.alpha);
        if (options.method == Method::Sequential) {
            check_number(at(an, "sequential_tuning"), options.sequential_tuning);
        } else {
            CHECK(at(an, "sequential_tuning").is_null());
        }
        CHECK(get_string(at(an, "correction")) == to_string(a.correction));
        simdjson::dom::object so;
        CHECK(!o["srm"].get_object().get(so));
        check_optional(at(so, "p_value"), s.srm.p_value);
        CHECK(get_bool(at(so, "mismatch")) == s.srm.mismatch);
    }

    // ---- history_point_json
    {
        const auto o = parse_object(history_point_json(s));
        CHECK(get_int(at(o, "seq")) == seq);
        check_string(at(o, "timestamp"), s.timestamp);
        simdjson::dom::array vs;
        CHECK(!o["variants"].get_array().get(vs));
        CHECK(vs.size() == n);
        std::size_t i = 0;
        for (auto ve : vs) {
            const VariantResult& v = a.variants[i];
            check_string(at(ve, "key"), counts[i].key);
            CHECK(get_int(at(ve, "participant_count")) == counts[i].participants);
            CHECK(get_int(at(ve, "conversion_count")) == counts[i].conversions);
            check_optional(at(ve, "relative_lift"), v.relative_lift);
            check_interval_json(at(ve, "lift_ci"), v.lift_ci);
            ++i;
        }
    }

    // ---- srm_anomaly_json
    {
        const auto o = parse_object(srm_anomaly_json(s));
        CHECK(get_string(at(o, "event")) == "anomaly");
        check_string(at(o, "experiment_id"), s.experiment_id);
        check_optional(at(o, "p_value"), s.srm.p_value);
    }

    // ---- error_json, from whatever bytes are left
    {
        const std::string code = pick_string(in);
        const std::string message = in.ConsumeRemainingBytesAsString();
        const auto o = parse_object(error_json(code, experiment_id, message));
        CHECK(get_string(at(o, "event")) == "error");
        check_string(at(o, "code"), code);
        check_string(at(o, "experiment_id"), experiment_id);
        check_string(at(o, "message"), message);
    }
    return 0;
}
