// What the fuzz targets share: a check that aborts (libFuzzer saves the input as a crash) and an
// independent UTF-8 validator.
#pragma once

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace expstream::fuzz {

[[noreturn]] inline void fail(const char* target, const char* what, int line) {
    std::fprintf(stderr, "%s: check failed at line %d: %s\n", target, line, what);
    std::abort();
}

// simdjson's own validator, independent of the writers'.
inline bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

}  // namespace expstream::fuzz

// FUZZ_TARGET_NAME names the target in the message; define it before including this header.
#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) expstream::fuzz::fail(FUZZ_TARGET_NAME, #cond, __LINE__); \
    } while (0)
