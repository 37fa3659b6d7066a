#pragma once
// The SQLite job store's schema: the tables, and the migrations from every older version
// (PRAGMA user_version) to this one.

#include <filesystem>
#include <memory>

#include "database.hpp"

namespace lipsyncd::spool::sqlite {

// Bump with every schema change and add the migration step to schema.cpp.
constexpr int kSchemaVersion = 5;

// Opens (creating if needed) the store's database in WAL mode with synchronous=FULL and
// migrates it to kSchemaVersion. Throws "store_too_new" for a schema newer than this build.
std::unique_ptr<Database> open_job_database(const std::filesystem::path& file);

}  // namespace lipsyncd::spool::sqlite
