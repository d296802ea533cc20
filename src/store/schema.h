// The trace database schema, described once as data.
//
// Every table, column (name, SQL type, unit, meaning), view, index and well-known meta key
// is listed in schema() below; the DDL the writer executes, docs/schema.md
// (schema_markdown()) and the text given to LLM agents (schema_text()) are all generated
// from it, so they cannot drift apart. tests/unit/store_schema_test.cpp checks that every
// documented view column exists and that docs/schema.md is up to date.
//
// Conventions (also stated in the generated documents):
// - Timestamps and durations are integer nanoseconds. Every `ts` is relative to the trace
//   origin: absolute CLOCK_MONOTONIC = ts + meta 'origin_monotonic_ns'; Unix wall clock =
//   ts + meta 'origin_realtime_ns'.
// - Processes and threads are referred to by upid/utid: ids unique within one trace (pids and
//   tids get reused, upids and utids never are).
// - Each event table has its own `id` (its SQLite rowid); "event ids" are per table.
//
// Thread-safety: schema() returns an immutable object built on first use (thread-safe
// static initialisation); the generator functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace causeway::store {

// Stored in PRAGMA user_version and meta 'schema_version'. Bump on any incompatible change;
// Reader refuses files with a larger version.
inline constexpr int kSchemaVersion = 1;
// Stored in PRAGMA application_id so a causeway trace can be recognised ("CAUS").
inline constexpr int32_t kApplicationId = 0x43415553;

struct ColumnDef {
  std::string_view name;
  std::string_view type;        // SQL type: INTEGER, TEXT (views: the type of the expression)
  std::string_view unit;        // "ns", "bytes", "id -> table", "bool", ... ; empty if none
  std::string_view meaning;     // one sentence for humans and LLMs
  std::string_view constraint;  // extra DDL after the type, e.g. "PRIMARY KEY", "NOT NULL"
};

struct TableDef {
  std::string_view name;
  std::string_view meaning;
  std::vector<ColumnDef> columns;
  std::string_view table_suffix = {};  // DDL after the column list, e.g. ") WITHOUT ROWID"
  std::string_view primary_key = {};   // table-level PRIMARY KEY column list, if any
};

struct ViewDef {
  std::string_view name;
  std::string_view meaning;
  std::vector<ColumnDef> columns;  // in SELECT order; must match the select exactly
  std::string_view select_sql;
};

struct IndexDef {
  std::string_view name;
  std::string_view table;
  std::string_view columns;
  std::string_view why;
};

struct MetaKeyDef {
  std::string_view key;
  std::string_view unit;
  std::string_view meaning;
  // "writer" (the store, in every trace), "recorder" (`causeway trace`, when tracing stops),
  // "symbolizer", "analysis" or "finish" (`causeway finish`).
  std::string_view written_by;
};

struct ExampleQuery {
  std::string_view question;
  std::string_view sql;
};

struct Schema {
  int version = kSchemaVersion;
  std::vector<std::string_view> conventions;
  std::vector<TableDef> tables;
  std::vector<ViewDef> views;
  std::vector<IndexDef> indexes;
  std::vector<MetaKeyDef> meta_keys;
  std::vector<ExampleQuery> examples;
};

// The schema of this build.
const Schema& schema();

// CREATE TABLE and CREATE VIEW statements (no indexes), separated by ";\n".
std::string schema_ddl();
// CREATE TABLE IF NOT EXISTS for one table of schema().tables ("" if there is none), for
// modules that add their tables to files written by older builds (e.g. the analysis).
std::string table_ddl(std::string_view table);
// CREATE INDEX IF NOT EXISTS statements for schema().indexes.
std::string schema_index_ddl();
// docs/schema.md: a Markdown reference for humans.
std::string schema_markdown();
// A compact plain-text description for LLM agents (MCP describe_schema): conventions,
// tables/views with column units and meaning, meta keys, example queries.
std::string schema_text();

// Launch dimensions (x, y, z) packed into one integer so a launch costs at most a few bytes
// on disk: x in bits 0..30, (y-1) mod 2^16 in bits 31..46, (z-1) mod 2^16 in bits 47..62.
// The common (n,1,1) packs to n. x is masked to 31 bits and y, z to 16 bits, which are
// CUDA's own limits (grid x < 2^31, grid y/z <= 65535, block dims <= 1024). The views unpack
// it: x = v & 2147483647, y = ((v >> 31) + 1) & 65535, z = ((v >> 47) + 1) & 65535.
int64_t pack_dim3(const uint32_t dims[3]);
void unpack_dim3(int64_t packed, uint32_t dims[3]);

}  // namespace causeway::store
