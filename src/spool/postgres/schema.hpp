#pragma once
// The PostgreSQL job store's schema: versioned migrations, recorded one row per version in
// `schema_migrations`, applied at open by whichever node comes first.

#include "connection.hpp"

namespace lipsyncd::spool::pg {

// Bump with every schema change and add the migration step to schema.cpp.
constexpr int kSchemaVersion = 2;

// Brings the database to kSchemaVersion in one transaction that holds an advisory lock, so
// nodes starting at once migrate one after the other (the later ones find nothing to do).
// Throws "store_too_new" (as the SQLite store does) when the database was migrated by a newer
// lipsyncd: this build would misread it.
void migrate(Connection& connection);

// The version the database is at (0: never migrated).
int schema_version(Connection& connection);

}  // namespace lipsyncd::spool::pg
