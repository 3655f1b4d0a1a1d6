// A database of its own for the C++ tests that need PostgreSQL (real parts, not mocks): created
// from EXPSTREAM_TEST_DATABASE_URL (an admin URL, default the local trust server) and dropped after.
#pragma once

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace expstream::testing {

inline std::string admin_url() {
    const char* url = std::getenv("EXPSTREAM_TEST_DATABASE_URL");
    return url && *url ? url : "postgresql://postgres@127.0.0.1:5432/postgres";
}

class PostgresTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        name_ = "expstream_cpp_" + std::to_string(::getpid());
        pqxx::connection admin(admin_url());
        pqxx::nontransaction tx(admin);
        tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        tx.exec("CREATE DATABASE " + name_);
    }
    static void TearDownTestSuite() {
        pqxx::connection admin(admin_url());
        pqxx::nontransaction tx(admin);
        tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    }
    // The admin URL with its database replaced by this suite's.
    static std::string url() {
        std::string base = admin_url();
        const auto query = base.find('?');
        const std::string params = query == std::string::npos ? "" : base.substr(query);
        base = base.substr(0, query);
        return base.substr(0, base.rfind('/') + 1) + name_ + params;
    }
    static inline std::string name_;
};

}  // namespace expstream::testing
