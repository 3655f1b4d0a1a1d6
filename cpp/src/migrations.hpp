// The schema's migrations, in the order Store::migrate applies them.
#pragma once

#include <cstddef>

namespace expstream {

extern const char* const kMigrations[];
extern const std::size_t kMigrationCount;

}  // namespace expstream
